"""History benchmark (issue #18): the Nth day's build and load, incremental next to a full recompute.

    .venv/bin/python bench/history.py [--days 1,10,30] [--scale 0.2] [--work DIR] [--quick]

Inputs: one purchase snapshot and a vendor drop a day, each ``obt generate`` at ``--scale`` (seed 0), converted and
named as ``bench/transform.py`` and the raw layout do: the purchases in the PostgreSQL export format the job reads,
each day's files as ``movie_review/ingest_date=D/movie_review.csv`` and ``log_reviews/ingest_date=D/…`` (so the job
groups them by date), with review ids of their own (``id_offset``) and their session logs on day D, as a real daily
drop has. They are kept under ``--work`` and reused while the generator is unchanged.

Runs, in one process and one JVM (``local[2]``, the session of ``bench/transform.py``), the job publishing to a
local stub. First a warm-up: the same runs on days 1 and 2, in folders of their own, figures dropped, so that day 1
does not pay for compiling the job (each path of it: a first date, a reused one, a full recompute). It reads the
measured inputs, not a tiny one, because the JIT compiles the per-row code only once enough rows went through it
(after a tiny warm-up, day 1 still took ~2 s more task CPU than day 2). Then, for day n = 1..D in turn, the build of
days 1..n into one ``--output`` root (the job's per-date layer, where it has one, stays there from build to build)
and its load into one DuckDB warehouse by the load use case itself (``obt.load.service.load_build``, as
``load_obt`` runs it; the output folders stand in for the curated bucket). When n is a day count of ``--days``,
a full recompute of days 1..n follows at once (so that a busy spell of a shared machine weighs on both alike): a
fresh ``--output`` root, plus the job's ``--full-rebuild`` flag when its parser has one, loaded into a copy of the
warehouse as it was before day n's load, so that both loads of day n start from the same OBT.

Figures per day count: the build's wall time; its Spark task CPU seconds, the sum of ``executorCpuTime`` over every
stage the build ran, read from the status store each SparkContext keeps (UI or not: ``statusStore().stageList``,
after the listener bus has delivered the last stage's metrics); the load's wall time, the rows it staged and
changed (its ledger row) and the ``log_date`` partitions it MERGEd (the ledger's ``partitions``: ``all`` for the
whole table, ``n/a`` while the ledger has no such column). The last line compares the incremental series' Dth day
with its first (target: at most 1.5); the line above it gives the full recompute's same ratio, the reference (it
grows with the data read), and the task CPU ratios, which a busy machine moves less than wall time. The job's own
log lines go to ``WORK/history.log``. Not run by the tests.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, replace
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple, TextIO

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "spark_jobs"), str(ROOT), str(ROOT / "bench")]

from obt_job.args import build_parser, parse_args  # noqa: E402
from obt_job.job import run as run_job  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from transform import TOPIC, TaskCpu, bench_session, convert_purchases  # noqa: E402

from obt.config import Settings  # noqa: E402
from obt.load.messages import parse_message  # noqa: E402
from obt.load.service import load_build  # noqa: E402
from obt.log import cli_logging  # noqa: E402
from obt.services import Services  # noqa: E402
from obt.warehouse.duckdb import DuckDbWarehouse  # noqa: E402
from obt_contract import layout  # noqa: E402
from obt_contract.message import build_message  # noqa: E402
from obt_contract.sources import PURCHASES, VENDOR_SOURCES  # noqa: E402
from obt_tools import generate  # noqa: E402

CURATED = "obt-bench-curated"
FULL_REBUILD = "--full-rebuild"
SEED = 0
FIRST_DAY = date(2021, 1, 1)
DEFAULT_SCALE, DEFAULT_DAYS = 0.2, (1, 10, 30)
QUICK_SCALE, QUICK_DAYS = 0.01, (1, 3)
# Two days: the warm-up takes every path the measured builds take (a first date, a reused one, a full recompute).
WARMUP_DAYS = (1, 2)
TARGET_RATIO = 1.5


class Drop(NamedTuple):
    """One day's vendor files."""

    reviews: Path
    logs: Path


@dataclass(frozen=True)
class Inputs:
    """The files of one scale: the purchase snapshot, its manifest and the daily drops, day 1 first."""

    purchases: Path
    purchases_manifest: Path
    drops: tuple[Drop, ...]


@dataclass(frozen=True)
class Figures:
    """One build and its load."""

    build_s: float
    task_cpu_s: float
    obt_rows: int
    load_s: float
    staged: int
    inserted: int
    updated: int
    deleted: int
    partitions: str


@dataclass(frozen=True)
class Row:
    """The figures of one day count: its incremental build and the full recompute of the same days."""

    days: int
    incremental: Figures
    full: Figures


def file_uri(path: Path) -> str:
    # Not Path.as_uri(): it percent-encodes the '=' of ingest_date=D, which Hadoop would take literally.
    return "file://" + str(path.resolve())


def _current(files: Sequence[Path], stamp: Path, made: str) -> bool:
    return all(f.exists() for f in files) and generate.is_current(stamp, made)


def prepare(folder: Path, scale: float, days: int) -> Inputs:
    """The purchase snapshot and ``days`` daily drops at ``scale`` under ``folder``; each made only when missing or
    made by another version of the generator."""
    stamps = folder / "_made_from"
    stamps.mkdir(parents=True, exist_ok=True)
    purchases = folder / PURCHASES / "purchases.csv"
    manifest = purchases.with_name(layout.MANIFEST_NAME)
    made = generate.made_from(scale=scale, seed=SEED, sources=[PURCHASES])
    if not _current([purchases, manifest], stamps / PURCHASES, made):
        purchases.parent.mkdir(exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            generate.generate(Path(tmp), scale, SEED, sources=(PURCHASES,))
            rows = convert_purchases(Path(tmp) / generate.FILES[PURCHASES], purchases)
        # The one field of a snapshot manifest the job reads: the rows it must find in the parts.
        manifest.write_text(json.dumps({"total_rows": rows}))
        (stamps / PURCHASES).write_text(made)
    reviews_a_day = generate.sizes_for(scale).reviews
    drops = []
    for n in range(days):
        day = FIRST_DAY + timedelta(days=n)
        drop = Drop(*(folder / layout.vendor_prefix(s, day) / generate.FILES[s] for s in VENDOR_SOURCES))
        made = generate.made_from(scale=scale, seed=SEED, id_offset=n * reviews_a_day, log_day=day.isoformat())
        stamp = stamps / day.isoformat()
        if not _current(drop, stamp, made):
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                generate.generate(Path(tmp), scale, SEED, n * reviews_a_day, VENDOR_SOURCES, log_start=day, log_days=1)
                for source, target in zip(VENDOR_SOURCES, drop, strict=True):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(Path(tmp) / generate.FILES[source], target)
            stamp.write_text(made)
        drops.append(drop)
    return Inputs(purchases, manifest, tuple(drops))


def has_full_rebuild(parser: argparse.ArgumentParser) -> bool:
    """Whether a job parser takes ``--full-rebuild``: asked of the job being run, so the bench needs no change when
    the flag arrives."""
    return FULL_REBUILD in parser._option_string_actions


def partitions_merged(ledger: Mapping[str, Any]) -> str:
    """A ledger row's ``partitions`` as the table shows it: how many dates the MERGE covered, ``all`` for the whole
    table (NULL), ``n/a`` for a ledger without the column."""
    if "partitions" not in ledger:
        return "n/a"
    if ledger["partitions"] is None:
        return "all"
    return f"{len(json.loads(ledger['partitions'])):,}"


class CuratedBucket:
    """Job output folders shown as one curated bucket, ``gs://CURATED``: to the loader, which reads manifests (the
    build's, and the last loaded build's), and to the DuckDB warehouse, which fetches Parquet. A manifest names its
    files under the ``file://`` root the job wrote to, which the loader would refuse as outside the bucket, so it
    reads that root as the bucket's."""

    def __init__(self) -> None:
        self.roots: list[Path] = []

    def _find(self, uri: str) -> tuple[Path, Path] | None:
        name = uri.removeprefix(f"gs://{CURATED}/")
        return next(((root, root / name) for root in self.roots if (root / name).is_file()), None)

    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None:
        found = self._find(uri)
        if found is None:
            return None
        root, path = found
        return json.loads(path.read_text().replace(file_uri(root) + "/", f"gs://{CURATED}/"))

    def fetch(self, uri: str, path: Path) -> bool:
        found = self._find(uri)
        if found is None:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[1], path)
        return True


def build_id(*label: object) -> str:
    """A build id of the contract's shape, one per label (run, kind, day count)."""
    return "obt-" + hashlib.sha256("/".join(map(str, label)).encode()).hexdigest()[:20]


class Bench:
    """What every run shares: the Spark session, the stand-in curated bucket, the CPU meter and the job's log."""

    def __init__(self, spark: SparkSession, job_log: TextIO) -> None:
        self.spark = spark
        self.job_log = job_log
        self.bucket = CuratedBucket()
        self.cpu = TaskCpu(spark)
        self.full_rebuild = has_full_rebuild(build_parser())

    def warehouse(self, state: Path) -> DuckDbWarehouse:
        settings = Settings(state_dir=state, warehouse_path=state / "warehouse.duckdb", curated_bucket=CURATED)
        return DuckDbWarehouse(settings, fetch=self.bucket.fetch)

    def build(self, inputs: Inputs, days: int, output: Path, build: str, full: bool) -> tuple[float, float, dict]:
        """The job on the purchases and days 1..``days`` into ``output``: wall seconds, task CPU seconds, manifest."""
        argv = [
            "--build-id", build, "--input-watermark", str(days),
            "--purchases-manifest", file_uri(inputs.purchases_manifest), "--purchases", file_uri(inputs.purchases),
            "--output", file_uri(output), "--topic", TOPIC, "--max-quarantine-share", "1.0",
        ]  # fmt: skip
        for drop in inputs.drops[:days]:
            argv += ["--movie-reviews", file_uri(drop.reviews), "--log-reviews", file_uri(drop.logs)]
        if full and self.full_rebuild:
            argv.append(FULL_REBUILD)
        if output not in self.bucket.roots:
            self.bucket.roots.append(output)
        self.cpu.seconds()  # anything run before this build is not its CPU
        started = time.perf_counter()
        # The job logs JSON lines on stdout, which is the bench's table.
        with redirect_stdout(self.job_log):
            manifest = run_job(self.spark, parse_args(argv))
        seconds = time.perf_counter() - started
        if manifest["status"] != "succeeded":
            raise SystemExit(f"build {build} of {days} day(s) failed: {manifest['reason']}")
        return seconds, self.cpu.seconds(), manifest

    def load(self, warehouse: DuckDbWarehouse, build: str) -> tuple[float, dict[str, Any]]:
        """The build's completion message handled by the load use case: wall seconds and the ledger row."""
        settings = warehouse.settings
        uri = f"gs://{CURATED}/{layout.build_manifest_name(build)}"
        message = parse_message(build_message(build, uri, "succeeded"), CURATED)
        services = replace(Services.from_settings(settings), objects=self.bucket, warehouse=lambda: warehouse)
        started = time.perf_counter()
        outcome = load_build(message, settings, services, message_id=build)
        seconds = time.perf_counter() - started
        if outcome.outcome != "loaded":
            raise SystemExit(f"build {build} was not loaded: {outcome.outcome}, {outcome.reason}")
        return seconds, outcome.ledger

    def build_and_load(
        self, inputs: Inputs, days: int, output: Path, warehouse: DuckDbWarehouse, build: str, full: bool
    ) -> Figures:
        build_s, cpu_s, manifest = self.build(inputs, days, output, build, full)
        load_s, ledger = self.load(warehouse, build)
        return Figures(
            build_s=build_s,
            task_cpu_s=cpu_s,
            obt_rows=manifest["obt"]["rows"],
            load_s=load_s,
            staged=ledger["rows_staged"],
            inserted=ledger["rows_inserted"],
            updated=ledger["rows_updated"],
            deleted=ledger["rows_deleted"],
            partitions=partitions_merged(ledger),
        )


def describe(label: str, days: int, figures: Figures) -> str:
    f = figures
    return (
        f"{label} days 1..{days}: build {f.build_s:.1f} s (task cpu {f.task_cpu_s:.1f} s, {f.obt_rows:,} OBT rows), "
        f"load {f.load_s:.1f} s: staged {f.staged:,}, +{f.inserted:,} ~{f.updated:,} -{f.deleted:,}, "
        f"partitions {f.partitions}"
    )


def history(bench: Bench, inputs: Inputs, days: Sequence[int], folder: Path, name: str) -> list[Row]:
    """The runs of the module docstring on ``inputs``, in ``folder`` (made afresh); a row per day count of ``days``."""
    shutil.rmtree(folder, ignore_errors=True)
    output, state = folder / "incremental", folder / "incremental-warehouse"
    warehouse = bench.warehouse(state)
    rows = []
    for n in range(1, max(days) + 1):
        # The warehouse as day n's load finds it, for the full recompute's load (nothing before day 1).
        full_state = folder / f"full-{n}-warehouse"
        if n in days and state.exists():
            shutil.copytree(state, full_state)
        incremental = bench.build_and_load(inputs, n, output, warehouse, build_id(name, "incremental", n), full=False)
        print(describe(f"[{name}] incremental", n, incremental), flush=True)
        if n in days:
            # Right after the incremental build, so that a busy spell of a shared machine weighs on both alike.
            full = bench.build_and_load(
                inputs, n, folder / f"full-{n}", bench.warehouse(full_state), build_id(name, "full", n), full=True
            )
            print(describe(f"[{name}] full recompute", n, full), flush=True)
            rows.append(Row(n, incremental, full))
    return rows


COLUMNS = ("build s", "task cpu s", "load s", "rows staged", "+ins ~upd -del", "partitions")


def _cells(f: Figures) -> list[str]:
    changed = f"+{f.inserted:,} ~{f.updated:,} -{f.deleted:,}"
    return [f"{f.build_s:.1f}", f"{f.task_cpu_s:.1f}", f"{f.load_s:.1f}", f"{f.staged:,}", changed, f.partitions]


def table(rows: Sequence[Row]) -> list[str]:
    """Each day count's incremental figures next to its full recompute's, columns as wide as their widest cell."""
    header = ["days", *COLUMNS, *COLUMNS]
    body = [[str(row.days), *_cells(row.incremental), *_cells(row.full)] for row in rows]
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    k = len(COLUMNS)

    def line(cells: Sequence[str]) -> str:
        padded = [cell.rjust(width) for cell, width in zip(cells, widths, strict=True)]
        return " | ".join([padded[0], "  ".join(padded[1 : 1 + k]), "  ".join(padded[1 + k :])])

    group = sum(widths[1 : 1 + k]) + 2 * (k - 1)
    title = " | ".join([" " * widths[0], "incremental (one --output root)".ljust(group), "full recompute"])
    return [title.rstrip(), line(header), *map(line, body)]


def ratio_lines(rows: Sequence[Row]) -> list[str]:
    """The full recompute's growth (the reference), the task CPU's (which a busy machine moves less than wall time)
    and the target, then the incremental build's wall time growth: the last line."""
    first, last = rows[0], rows[-1]
    span = f"{last.days}d/{first.days}d"
    incremental = last.incremental.build_s / first.incremental.build_s
    verdict = "met" if incremental <= TARGET_RATIO else "MISSED"
    return [
        f"full recompute ratio {span} wall: {last.full.build_s / first.full.build_s:.2f} (reference), task cpu "
        f"{last.full.task_cpu_s / first.full.task_cpu_s:.2f} | incremental task cpu "
        f"{last.incremental.task_cpu_s / first.incremental.task_cpu_s:.2f} | target for the incremental build's "
        f"wall: at most {TARGET_RATIO:.2f}: {verdict}",
        f"history ratio {span} wall: {incremental:.2f}",
    ]


def day_counts(text: str) -> tuple[int, ...]:
    """``1,10,30`` -> (1, 10, 30): two or more day counts, each 1 or more (sorted, repeats dropped)."""
    try:
        days = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected day counts like 1,10,30, got {text!r}") from None
    if len(days) < 2 or days[0] < 1:
        raise argparse.ArgumentTypeError(f"expected two or more day counts of 1 or more, like 1,10,30, got {text!r}")
    return tuple(days)


def parse_options(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days", type=day_counts, help="day counts to record, comma-separated (default 1,10,30; --quick: 1,3)"
    )
    parser.add_argument(
        "--scale", type=generate.parse_scale, help=f"generate scale of each input (default {DEFAULT_SCALE:g})"
    )
    parser.add_argument(
        "--work", type=Path, default=ROOT / ".obt" / "bench-history", help="inputs are kept here between runs"
    )
    parser.add_argument("--quick", action="store_true", help=f"a smoke run: scale {QUICK_SCALE:g}, days 1,3")
    options = parser.parse_args(argv)
    options.days = options.days or (QUICK_DAYS if options.quick else DEFAULT_DAYS)
    options.scale = options.scale or (QUICK_SCALE if options.quick else DEFAULT_SCALE)
    return options


@contextmanager
def spark_session() -> Iterator[SparkSession]:
    """``bench/transform.py``'s session, its job publishing to a local stub."""
    spark = bench_session("bench-history")
    try:
        yield spark
    finally:
        spark.stop()


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(argv)
    work: Path = options.work
    inputs = prepare(work / f"inputs-{options.scale:g}", options.scale, max(options.days))
    job_log = work / "history.log"
    flag = f"with {FULL_REBUILD}" if has_full_rebuild(build_parser()) else f"(the job has no {FULL_REBUILD})"
    print(
        f"history: a purchase snapshot and a vendor drop a day, each scale {options.scale:g}; days "
        f"{','.join(map(str, options.days))} recorded; full recompute: a fresh --output root {flag}; "
        f"job log {job_log}; load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    # py4j logs its shutdown at INFO, after the last line, through the JSON handler obt.log gives the root logger.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    with cli_logging(), job_log.open("w") as log, spark_session() as spark:
        bench = Bench(spark, log)
        history(bench, inputs, WARMUP_DAYS, work / "runs" / "warm-up", "warm-up")
        rows = history(bench, inputs, options.days, work / "runs" / f"scale-{options.scale:g}", "measured")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end ({os.cpu_count()} cores)")
    print(*table(rows), sep="\n")
    print(*ratio_lines(rows), sep="\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
