"""Transform benchmark: the Spark job's wall time and rows/s, next to the same rules as one DuckDB statement.

    .venv/bin/python bench/transform.py [--data ../shared/data] [--scales real,10] [--work DIR]
                                        [--tagger-labels FILE] [--tagger-cache DIR]

``real`` is the files in ``shared/data``; ``N`` is ``obt generate`` at scale N. Both engines get the same
inputs (purchases converted to the PostgreSQL export format the job reads) and the same two cores
(``local[2]``, DuckDB ``threads=2``). Spark's figure is the job itself (read, rules, Parquet, quarantine,
manifest, publish to a local stub) without the session start, run ``--runs`` times in one fresh process and
JVM per scale: ``cold`` is the first run (what every Dataproc Serverless batch pays: classes loaded, code
generated, compiled by Janino and then by the JIT), ``warm`` the second, ``hot`` the best of the later runs
(the job once the JVM has compiled it: what a long-lived session such as a Spark Connect server pays).
A first line measures the fixed cost (the job on a tiny input). DuckDB's figure is one
``COPY (…) TO parquet`` producing the OBT only, with the XML fields taken by regular expression: a
single-node reference, not an equivalent job. Ratios are spark / duckdb. Not run by the tests.

Scoring overhead: on the real data, the same JVM also runs the job ``--runs`` times with ``--tagger-model`` (the
review tagger trained on ``--tagger-labels``, taken from the demo's model cache ``.obt/tagger/`` or trained into
it: ``obt_tools.demo.tagger_model``), and the hot times with and without it are compared with the target "scoring
adds at most 25%". Each kind's cold and warm runs come first (the first scored run pays for loading the model and
compiling the scoring code), then the later runs alternate between the two. Beside the wall times, each kind's
Spark task CPU seconds (``TaskCpu``; hot = the least of the later runs): on a machine shared with other work, wall
time moves with the neighbours' load, task CPU far less, so the two together tell scoring's cost from a busy spell.
"""

from __future__ import annotations

import argparse
import gzip
import json
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "spark_jobs"), str(ROOT)]

from obt_tools import demo, generate, seed  # noqa: E402
from obt_tools.tagger.labels import read_labels  # noqa: E402

TOPIC = "projects/obt-bench/topics/obt-build-complete"
RESULT = "bench-result: "
# The vendor files' ingest date: the job groups vendor inputs by the date their names carry (raw layout).
INGEST_DATE = "2021-11-01"
# The scale whose scoring overhead is measured, and the target it is held to.
TAGGED_SCALE = "real"
SCORING_TARGET = 0.25

DUCKDB_OBT = r"""
COPY (
WITH p AS (
  SELECT * FROM read_csv({purchases}, header = true, all_varchar = true, quote = '"', escape = '"')
), typed AS (
  SELECT *, TRY_CAST(quantity AS INTEGER) AS q, TRY_CAST(unit_price AS DECIMAL(10,3)) AS up,
         TRY_CAST(customer_id AS BIGINT) AS cid, TRY_STRPTIME(invoice_date, '%Y-%m-%d %H:%M:%S') AS ts
  FROM p
), clean AS (
  SELECT DISTINCT invoice_number, stock_code, detail, quantity, invoice_date, unit_price, customer_id, country,
         q, up, cid, ts
  FROM typed
  WHERE q IS NOT NULL AND up IS NOT NULL AND ts IS NOT NULL AND cid IS NOT NULL AND length(stock_code) > 1
    AND q >= 0 AND up >= 0 AND regexp_matches(invoice_number, '^[0-9]')
), cust AS (
  SELECT cid AS customer_id, CAST(SUM(q * up) AS DECIMAL(38,9)) AS amount_spent,
         COUNT(DISTINCT invoice_number) AS count_invoices,
         CAST(MIN(ts) AS DATE) AS first_invoice_date, CAST(MAX(ts) AS DATE) AS last_invoice_date
  FROM clean GROUP BY cid
), r0 AS (
  SELECT DISTINCT TRY_CAST(trim(cid) AS BIGINT) AS customer_id, trim(review_str) AS review_str,
         TRY_CAST(trim(id_review) AS BIGINT) AS review_id
  FROM read_csv({reviews}, header = true, all_varchar = true, quote = '"', escape = '"')
), r AS (
  SELECT review_id, customer_id,
         CASE WHEN list_contains(regexp_split_to_array(regexp_replace(lower(review_str), '<[^>]*>', ' ', 'g'),
                                                       '[^a-z0-9]+'), 'good') THEN 1 ELSE 0 END AS pos
  FROM r0 WHERE customer_id IS NOT NULL AND review_id IS NOT NULL
  QUALIFY COUNT(*) OVER (PARTITION BY review_id) = 1
), l0 AS (
  SELECT DISTINCT TRY_CAST(trim(id_review) AS BIGINT) AS review_id, trim(log) AS log
  FROM read_csv({logs}, header = true, all_varchar = true, quote = '"', escape = '"')
), l1 AS (
  SELECT review_id,
         CAST(TRY_STRPTIME(regexp_extract(log, '<logDate>([^<]*)</logDate>', 1), '%m-%d-%Y') AS DATE) AS log_date,
         nullif(trim(regexp_extract(log, '<device>([^<]*)</device>', 1)), '') AS device,
         nullif(trim(regexp_extract(log, '<location>([^<]*)</location>', 1)), '') AS loc,
         nullif(trim(regexp_extract(log, '<os>([^<]*)</os>', 1)), '') AS os
  FROM l0 WHERE review_id IS NOT NULL
  QUALIFY COUNT(*) OVER (PARTITION BY review_id) = 1
), l AS (
  SELECT review_id, log_date, device, os,
         CASE loc WHEN 'Pensylvania' THEN 'Pennsylvania' WHEN 'Lousiana' THEN 'Louisiana'
                  WHEN 'Massachussets' THEN 'Massachusetts' ELSE loc END AS location,
         CASE os WHEN 'Linux' THEN 'Firefox' WHEN 'Google Android' THEN 'Chrome' WHEN 'Microsoft Windows' THEN 'Edge'
                 WHEN 'Apple iOS' THEN 'Safari' WHEN 'Apple MacOS' THEN 'Safari' ELSE 'Unknown' END AS browser,
         CASE WHEN strftime(log_date, '%m-%d') BETWEEN '03-20' AND '06-20' THEN 'Spring'
              WHEN strftime(log_date, '%m-%d') BETWEEN '06-21' AND '09-22' THEN 'Summer'
              WHEN strftime(log_date, '%m-%d') BETWEEN '09-23' AND '12-20' THEN 'Fall' ELSE 'Winter' END AS season
  FROM l1 WHERE log_date IS NOT NULL AND device IS NOT NULL AND loc IS NOT NULL AND os IS NOT NULL
), k AS (
  SELECT r.customer_id, l.log_date, l.season, l.device, l.location,
         CASE WHEN l.location IN ('Alaska', 'Arizona', 'California', 'Colorado', 'Hawaii', 'Idaho', 'Montana',
                                  'Nevada', 'New Mexico', 'Oregon', 'Utah', 'Washington', 'Wyoming')
              THEN 'West' ELSE 'East' END AS region,
         l.os, l.browser, COUNT(DISTINCT r.review_id) AS review_count, SUM(r.pos) AS review_score
  FROM r JOIN l USING (review_id)
  GROUP BY ALL
)
SELECT k.*, c.amount_spent, c.count_invoices, c.first_invoice_date, c.last_invoice_date
FROM k LEFT JOIN cust c USING (customer_id)
) TO {out} (FORMAT parquet)
"""


class _Stub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server API
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"messageIds": ["1"]}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def convert_purchases(source: Path, target: Path) -> int:
    """UCI shape -> the PostgreSQL COPY CSV export that extract_postgres lands (the seed's own conversion)."""
    with seed.open_text(source) as src, target.open("wb") as dst:
        dst.write((",".join(name for name, _ in seed.COLUMNS) + "\n").encode())
        return seed.spool_converted(src, dst)


def bench_session(app: str):
    """The benchmarks' SparkSession (``local[2]``), its job publishing to a local stub Pub/Sub (``_Stub``): a daemon
    thread, which ends with the benchmark's process (one session per process)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["PUBSUB_EMULATOR_HOST"] = f"127.0.0.1:{server.server_address[1]}"
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "4g")
        # The job generates more classes than the default cache of 100 holds, so without this every rerun
        # would generate, compile and JIT-compile them again, and warm or hot would measure a cold job.
        .config("spark.sql.codegen.cache.maxEntries", "2000")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def prepare(scale: str, data: Path, work: Path) -> dict[str, Path]:
    folder = work / f"inputs-{scale}"
    files = {
        "purchases": folder / "purchases.csv",
        "reviews": folder / "movie_review" / f"ingest_date={INGEST_DATE}" / "movie_review.csv",
        "logs": folder / "log_reviews" / f"ingest_date={INGEST_DATE}" / "log_reviews.csv",
    }
    # What the inputs were made from: generated inputs are made again when the generator changes.
    made = "real" if scale == "real" else generate.made_from(scale=scale, seed=0)
    stamp = folder / "_MADE_FROM"
    if all(p.exists() for p in files.values()) and generate.is_current(stamp, made):
        return files
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    if scale == "real":
        rows = convert_purchases(data / "user_purchase.csv.gz", files["purchases"])
        with lzma.open(data / "movie_review.csv.xz") as src, files["reviews"].open("wb") as dst:
            shutil.copyfileobj(src, dst)
        with gzip.open(data / "log_reviews.csv.gz") as src, files["logs"].open("wb") as dst:
            shutil.copyfileobj(src, dst)
    else:
        generated = folder / "generated"
        generate.generate(generated, float(scale), seed=0)
        rows = convert_purchases(generated / "user_purchase.csv", files["purchases"])
        shutil.move(generated / "movie_review.csv", files["reviews"])
        shutil.move(generated / "log_reviews.csv", files["logs"])
        shutil.rmtree(generated)
    (folder / "_MANIFEST.json").write_text(json.dumps({"total_rows": rows}))
    stamp.write_text(made)
    return files


def _uri(path: Path) -> str:
    # Not Path.as_uri(): it percent-encodes the '=' of ingest_date=D, which Hadoop would take literally.
    return f"file://{path.resolve()}"


def run_spark(spark, files: dict[str, Path], work: Path, scale: str, tagger_model: str | None) -> tuple[float, dict]:
    from obt_job.args import parse_args
    from obt_job.job import run

    out = work / f"spark-out-{scale}"
    shutil.rmtree(out, ignore_errors=True)
    argv = [
        "--build-id", f"obt-bench-{scale}", "--input-watermark", "1",
        "--purchases-manifest", _uri(files["purchases"].parent / "_MANIFEST.json"),
        "--purchases", _uri(files["purchases"]), "--movie-reviews", _uri(files["reviews"]),
        "--log-reviews", _uri(files["logs"]), "--output", _uri(out), "--topic", TOPIC,
        "--max-quarantine-share", "1.0",
    ]  # fmt: skip
    if tagger_model:
        argv += ["--tagger-model", tagger_model]
    started = time.perf_counter()
    manifest = run(spark, parse_args(argv))
    return time.perf_counter() - started, manifest


class TaskCpu:
    """Spark task CPU: ``executorCpuTime`` summed over the stages run since the last reading. The SparkContext's
    status store holds every stage's metrics whether or not the UI runs, and in local mode the tasks are threads of
    this JVM, whose CPU time the executor measures."""

    def __init__(self, spark) -> None:
        self._context = spark.sparkContext._jsc.sc()
        gateway = spark.sparkContext._gateway
        self._no_quantiles = gateway.new_array(gateway.jvm.double, 0)
        self._as_java = gateway.jvm.scala.jdk.javaapi.CollectionConverters.asJava
        self._last_stage = max((stage.stageId() for stage in self._stages()), default=-1)

    def _stages(self) -> list:
        # A stage's metrics reach the store through the listener bus, which may still hold them when the job returns.
        self._context.listenerBus().waitUntilEmpty()
        store = self._context.statusStore()
        return list(self._as_java(store.stageList(None, False, False, self._no_quantiles, None)))

    def seconds(self) -> float:
        """The CPU seconds of the stages (every attempt) run since the last call; stage ids only grow."""
        stages = [(stage.stageId(), stage.executorCpuTime()) for stage in self._stages()]
        new = [(stage_id, nanos) for stage_id, nanos in stages if stage_id > self._last_stage]
        self._last_stage = max((stage_id for stage_id, _ in new), default=self._last_stage)
        return sum(nanos for _, nanos in new) / 1e9


def timings(seconds: list[float], task_cpu: list[float]) -> dict:
    """cold (first run), warm (second) and hot (best of the later ones) of a series of runs in one JVM, and the
    task CPU seconds of each run (hot: the least of the later ones)."""
    return {
        "runs": seconds,
        "cold": seconds[0],
        "warm": seconds[1],
        "hot": min(seconds[2:] or seconds[1:]),
        "task_cpu": task_cpu,
        "hot_task_cpu": min(task_cpu[2:] or task_cpu[1:]),
    }


def measure_spark(scale: str, data: Path, work: Path, runs: int, tagger_model: str | None) -> dict:
    """In this (fresh) process: the job ``runs`` times on the same inputs in one JVM and, when ``tagger_model`` is
    given, as many times scored by it (in the order the module docstring gives)."""
    files = prepare(scale, data, work)
    started = time.perf_counter()
    spark = bench_session("bench-transform")
    session_s = time.perf_counter() - started
    task_cpu = TaskCpu(spark)
    models = [None, *([tagger_model] if tagger_model else [])]
    seconds: dict[str | None, list[float]] = {model: [] for model in models}
    cpu: dict[str | None, list[float]] = {model: [] for model in models}
    manifests: dict[str | None, dict] = {}
    # Each kind's cold and warm runs first, then the hot runs alternate: a slower spell of a shared machine then
    # falls on both kinds, not on whichever ran last.
    order = [model for model in models for _ in range(2)] + [model for _ in range(runs - 2) for model in models]
    for model in order:
        elapsed, manifests[model] = run_spark(spark, files, work, scale, model)
        seconds[model].append(elapsed)
        cpu[model].append(task_cpu.seconds())
    manifest = manifests[None]
    tagged = (
        {**timings(seconds[tagger_model], cpu[tagger_model]), "tagger": manifests[tagger_model]["tagger"]}
        if tagger_model
        else None
    )
    spark.stop()
    read = sum(s["read"] for k, s in manifest["sources"].items() if k != "review_log_join")
    return {
        "session": session_s,
        **timings(seconds[None], cpu[None]),
        "read": read,
        "obt_rows": manifest["obt"]["rows"],
        "tagged": tagged,
    }


def spark_in_child(scale: str, data: Path, work: Path, runs: int, tagger_model: str | None = None) -> dict:
    """Each measurement in its own Python and JVM: a SparkSession stopped and rebuilt keeps the JVM warm."""
    cmd = [sys.executable, __file__, "--measure-spark", scale, "--data", str(data), "--work", str(work)]
    cmd += ["--runs", str(runs)]
    if tagger_model:
        cmd += ["--tagger-model", tagger_model]
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    # The job's own JSON log lines share stdout, so the result line is marked.
    return json.loads(next(line for line in out.splitlines() if line.startswith(RESULT))[len(RESULT) :])


def run_duckdb(files: dict[str, Path], work: Path, scale: str) -> tuple[float, int]:
    import duckdb

    out = work / f"duckdb-obt-{scale}.parquet"
    con = duckdb.connect()
    con.execute("SET threads = 2")
    sql = DUCKDB_OBT.format(
        purchases=f"'{files['purchases']}'", reviews=f"'{files['reviews']}'", logs=f"'{files['logs']}'", out=f"'{out}'"
    )
    started = time.perf_counter()
    con.execute(sql)
    seconds = time.perf_counter() - started
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}')").fetchone()[0]
    return seconds, rows


def scoring_overhead(scale: str, spark: dict) -> str:
    """The line comparing the hot job with and without the tagger against ``SCORING_TARGET``."""
    plain, tagged = spark["hot"], spark["tagged"]["hot"]
    added = tagged / plain - 1
    tagger = spark["tagged"]["tagger"]
    verdict = "met" if added <= SCORING_TARGET else "MISSED"
    plain_cpu, tagged_cpu = spark["hot_task_cpu"], spark["tagged"]["hot_task_cpu"]
    return (
        f"scoring overhead [{scale}]: hot {plain:.1f} s without --tagger-model, {tagged:.1f} s with it "
        f"(model {tagger['model_version']}, {tagger['predicted_positive']:,} of {tagger['reviews_scored']:,} reviews "
        f"predicted positive; scored runs {', '.join(f'{r:.1f}' for r in spark['tagged']['runs'])} s): "
        f"ratio {tagged / plain:.2f}, {added:+.0%} | target: scoring adds at most {SCORING_TARGET:.0%}: {verdict} | "
        f"task CPU hot {plain_cpu:.1f} s without, {tagged_cpu:.1f} s with it ({tagged_cpu / plain_cpu - 1:+.0%}; "
        f"runs {', '.join(f'{c:.1f}' for c in spark['task_cpu'])} / "
        f"{', '.join(f'{c:.1f}' for c in spark['tagged']['task_cpu'])} s)"
    )


def tagger_model_uri(labels: Path, cache: Path) -> str | None:
    """The tagger trained on ``labels`` (cached in ``cache``, trained there first if needed); None without labels."""
    if not labels.is_file():
        print(f"no labelled reviews at {labels}: scoring overhead not measured")
        return None
    model = demo.tagger_model(cache, read_labels(labels))
    print(f"review tagger: {model.describe()}, at {model.path}")
    return model.uri


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--scales", default="real,10", help="comma-separated: real and/or generate scales")
    parser.add_argument("--work", type=Path, default=None, help="keep inputs here between runs")
    parser.add_argument("--floor-scale", default="0.001", help="the tiny input that measures the fixed cost")
    parser.add_argument("--runs", type=int, default=4, help="job runs per JVM: cold, warm, then hot (>= 2)")
    parser.add_argument(
        "--tagger-labels",
        type=Path,
        help=f"labelled reviews for the scoring overhead (default: {demo.DEFAULT_TAGGER_LABELS.name} in --data)",
    )
    parser.add_argument(
        "--tagger-cache",
        type=Path,
        default=ROOT / ".obt" / demo.TAGGER_FOLDER,
        help="trained models, shared with `obt demo` (default .obt/tagger)",
    )
    parser.add_argument("--measure-spark", metavar="SCALE", help=argparse.SUPPRESS)
    parser.add_argument("--tagger-model", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.runs < 2:
        parser.error("--runs must be at least 2 (cold and warm)")
    work = options.work or Path(tempfile.mkdtemp(prefix="obt-bench-transform-"))
    if options.measure_spark:
        measured = measure_spark(options.measure_spark, options.data, work, options.runs, options.tagger_model)
        print(RESULT + json.dumps(measured), flush=True)
        return 0
    scales = [s.strip() for s in options.scales.split(",") if s.strip()]
    if "real" in scales and not (options.data / "user_purchase.csv.gz").exists():
        print(f"skipping real: no data at {options.data}")
        scales.remove("real")

    floor = spark_in_child(options.floor_scale, options.data, work, options.runs)
    print(
        f"fixed cost: the job on {floor['read']:,} input rows (scale {options.floor_scale}) takes "
        f"{floor['cold']:.1f} s cold, {floor['warm']:.1f} s warm, {floor['hot']:.1f} s hot "
        "(JVM class loading, code generation, JIT, one Spark job per action)"
    )
    labels = options.tagger_labels or options.data / demo.DEFAULT_TAGGER_LABELS.name
    model = tagger_model_uri(labels, options.tagger_cache) if TAGGED_SCALE in scales else None
    results = []
    for scale in scales:
        spark = spark_in_child(scale, options.data, work, options.runs, model if scale == TAGGED_SCALE else None)
        duck_s, duck_rows = run_duckdb(prepare(scale, options.data, work), work, scale)
        results.append((scale, spark, duck_s, duck_rows))
        print(
            f"[{scale}] spark runs {', '.join(f'{r:.1f}' for r in spark['runs'])} s "
            f"({spark['obt_rows']:,} OBT rows) | duckdb {duck_s:.1f} s ({duck_rows:,} OBT rows) | "
            "ratio " + ", ".join(f"{k} {spark[k] / duck_s:.2f}" for k in ("cold", "warm", "hot"))
        )
        if spark["tagged"]:
            print(scoring_overhead(scale, spark))

    print(
        "\nscale  input rows  spark cold s  warm s  hot s  hot rows/s  duckdb s  duckdb rows/s  "
        "ratio cold  warm  hot  obt rows (spark/duckdb)"
    )
    for scale, spark, duck_s, duck_rows in results:
        read = spark["read"]
        cold, warm, hot = spark["cold"], spark["warm"], spark["hot"]
        print(
            f"{scale:>5}  {read:>10,}  {cold:>12.1f}  {warm:>6.1f}  {hot:>5.1f}  {read / hot:>10,.0f}  "
            f"{duck_s:>8.1f}  {read / duck_s:>13,.0f}  {cold / duck_s:>10.2f}  {warm / duck_s:>4.2f}  "
            f"{hot / duck_s:>4.2f}  {spark['obt_rows']:,}/{duck_rows:,}"
        )
    if len(results) > 1:
        (first, a, da, _), (last, b, db, _) = results[0], results[-1]
        print(
            f"ratio {first} -> {last}: "
            + ", ".join(f"{k} {a[k] / da:.2f} -> {b[k] / db:.2f}" for k in ("cold", "warm", "hot"))
        )
    print(f"work folder: {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
