"""Benchmark the PostgreSQL extract against the shell pipeline a person would use, on the same table.

Starts its own throwaway PostgreSQL (``obt_tools.local.postgres``) and storage emulator (``obt_tools.local.gcs``), seeds
``../shared/data/user_purchase.csv.gz``, then for 1x and 10x the table (10x via ``INSERT … SELECT``):

- the pipeline: ``psql -c "\\copy (SELECT …) TO STDOUT WITH CSV HEADER" | gzip -1 > file``;
- our extract (``obt.extract.service.run_extract``, the function's code) into the storage emulator, in a
  fresh child process so its peak RSS (``wait4``) is the extract's alone. The clock starts after imports
  and the storage client (a warm instance has them), and includes connecting to PostgreSQL.

Prints rows/s for both (best of ``--repeat``), their ratio, the CPU seconds each spent outside PostgreSQL
(comparable on a busy machine, unlike wall time), and our peak RSS. Not part of the test suite.

    .venv/bin/python bench/extract.py [--repeat 3] [--scales 1,10] [--csv PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from obt_tools.local import gcs, procs  # noqa: E402
from obt_tools.local import postgres as pg  # noqa: E402

DEFAULT_CSV = REPO.parent / "shared" / "data" / "user_purchase.csv.gz"
COLUMNS = "invoice_number,stock_code,detail,quantity,invoice_date,unit_price,customer_id,country"
PROJECT = "obt-bench"
BUCKET = "obt-bench-raw"


def child(table: str, run_id: str) -> None:
    """Run one extract in this process and print its timing as JSON (the parent measures RSS)."""
    from obt import clients
    from obt.config import Settings
    from obt.extract.request import build_request
    from obt.extract.service import run_extract

    settings = Settings.from_env()
    request = build_request(tables=[table], run_id=run_id, allowed=settings.extract_tables)
    # A warm function instance has imported the storage library and built its client already; the
    # database connection is still opened inside the measurement (psql connects inside its own too).
    clients.storage(settings).bucket(settings.raw_bucket)
    started, cpu = time.perf_counter(), time.process_time()
    (outcome,) = run_extract(settings, request)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    manifest = outcome.manifest
    print(json.dumps({"seconds": elapsed, "cpu": cpu, "rows": manifest["total_rows"]}))


def run_ours(env: dict[str, str], table: str, run_id: str) -> tuple[float, float, int, int]:
    """(seconds, CPU seconds, rows, peak RSS in KiB) of one extract in a child process."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--child", table, run_id],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    out = proc.stdout.read() if proc.stdout else b""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"extract child failed with {proc.returncode}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    return result["seconds"], result["cpu"], result["rows"], usage.ru_maxrss


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_pipeline(info: pg.PostgresInfo, table: str, target: Path) -> tuple[float, float]:
    """(seconds, CPU seconds of psql + gzip) of the shell pipeline."""
    copy = f"\\copy (SELECT {COLUMNS} FROM {table}) TO STDOUT WITH CSV HEADER"
    command = (
        f"psql -X -q -h {info.host} -p {info.port} -U {info.user} -d {info.database} -c '{copy}' | gzip -1 > {target}"
    )
    env = {**os.environ, "PGPASSWORD": info.password}
    started, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(["bash", "-o", "pipefail", "-c", command], check=True, env=env)
    return time.perf_counter() - started, _children_cpu() - cpu


def scale_table(info: pg.PostgresInfo, source: str, table: str, factor: int) -> int:
    conn = info.connect()
    conn.autocommit = True
    try:
        cursor = conn.cursor()
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} (LIKE {source})")
        for _ in range(factor):
            cursor.execute(f"INSERT INTO {table} SELECT * FROM {source}")
        cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=2, metavar=("TABLE", "RUN_ID"), help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    if not args.csv.is_file():
        print(f"bench/extract.py: {args.csv} is absent; nothing to measure")
        return 0
    if not shutil.which("psql"):
        print("bench/extract.py: psql is not installed; the comparison pipeline cannot run")
        return 1

    from obt_tools.seed import seed

    state = procs.ensure_state_dir(Path(tempfile.mkdtemp(prefix="obt-bench-extract-")))
    pg_service, info = pg.start_postgres(state)
    gcs_service = gcs.start_gcs(state, PROJECT, (BUCKET,))
    try:
        conn = info.connect()
        conn.autocommit = True
        try:
            base_rows = seed(conn, args.csv, "user_purchase").rows
        finally:
            conn.close()
        results = []
        for factor in (int(s) for s in args.scales.split(",")):
            table = "user_purchase" if factor == 1 else f"user_purchase_x{factor}"
            rows = base_rows if factor == 1 else scale_table(info, "user_purchase", table, factor)
            env = {
                **os.environ,
                **info.env(),
                "STORAGE_EMULATOR_HOST": gcs_service.url,
                "OBT_PROJECT": PROJECT,
                "OBT_RAW_BUCKET": BUCKET,
                "OBT_EXTRACT_TABLES": table,
            }
            pipe, pipe_cpu, ours, ours_cpu, rss = [], [], [], [], []
            for attempt in range(args.repeat):
                seconds, cpu = run_pipeline(info, table, state / f"{table}.csv.gz")
                pipe.append(seconds)
                pipe_cpu.append(cpu)
                seconds, cpu, copied, peak = run_ours(env, table, f"bench-{attempt}")
                if copied != rows:
                    raise SystemExit(f"{table}: extract copied {copied} rows, table has {rows}")
                ours.append(seconds)
                ours_cpu.append(cpu)
                rss.append(peak)
            results.append((factor, rows, min(pipe), min(ours), min(pipe_cpu), min(ours_cpu), max(rss)))
            print(
                f"{factor:>3}x {rows:>10,} rows | psql|gzip -1: {min(pipe):6.2f} s {rows / min(pipe):>10,.0f} rows/s"
                f" (CPU {min(pipe_cpu):.2f} s) | ours: {min(ours):6.2f} s {rows / min(ours):>10,.0f} rows/s"
                f" (CPU {min(ours_cpu):.2f} s) | ratio {min(pipe) / min(ours):.2f}"
                f" | our peak RSS {max(rss) / 1024:.0f} MB",
                flush=True,
            )
        keys = ("scale", "rows", "pipeline_s", "ours_s", "pipeline_cpu_s", "ours_cpu_s", "ours_peak_rss_kib")
        print(json.dumps({"extract_bench": [dict(zip(keys, r, strict=True)) for r in results]}))
    finally:
        procs.stop(gcs_service)
        procs.stop(pg_service)
        pg.remove_fallback(state)
        shutil.rmtree(state, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
