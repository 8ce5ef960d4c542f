"""The real vendor files split over three ingest dates: a build that reuses the classified layer gives the vendor
files' reference figures and equals a full rebuild of the same contents, row for row.

The reviews and logs of ``../shared/data`` are cut by review id into three dates; each date's last 1,000 logs
arrive a date late (so a log joins its review across dates), and the third date repeats 50 reviews of the first
with their logs (kept once). The snapshot is the real purchases' first 50,000 records as ``extract_postgres`` exports
them: the purchases do not depend on the vendor dates (the whole file's figures: ``tests/e2e/test_real_data.py``),
and all 541,908 cost each build ~4 s.

The job runs with ``--full-rebuild`` on the three dates, the oracle, which classifies every date into the layer;
then the vendor re-uploads the second date's files unchanged (new generations), and the job runs again from a fresh
mirror folder: it reuses the first and third dates from the layer it finds through the storage emulator and
classifies the second anew. The OBT is a function of the files' contents, so both builds' outputs must be equal.
(Two builds on 100,000 reviews, ~20 s each: the fewest that take a reused date, a new one and the oracle. How a
build waits for a late log across builds: ``test_incremental_builds``, on generated data.)
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from itertools import islice
from pathlib import Path

import pytest

from obt_contract.sources import ALL_SOURCES, LOG_REVIEWS, MOVIE_REVIEW, REASONS
from obt_tools import seed
from tests.spark_jobs.helpers import CURATED, RawBucket, build_in_mirror

pytestmark = [pytest.mark.slow, pytest.mark.realdata]

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FILES = {
    MOVIE_REVIEW: SHARED_DATA / "movie_review.csv.xz",
    LOG_REVIEWS: SHARED_DATA / "log_reviews.csv.gz",
    "purchases": SHARED_DATA / "user_purchase.csv.gz",
}
D1, D2, D3 = (date(2026, 11, 20) + timedelta(days=i) for i in range(3))
LAST_ID = {D1: 33_000, D2: 66_000}  # review ids up to this on that date, the rest on D3
LATE = 1_000  # each date's last logs, arriving the next date
REPEATED = range(1, 51)  # D1's first reviews and their logs, again on D3
SNAPSHOT = "user_purchase/ingest_date=2026-11-22/run_id=r1/"
PURCHASES = 50_000  # the real file's first records
# The reference figures (../shared/data/README.md), whatever the dates the vendor files came on.
OBT_ROWS, REVIEWS, POSITIVE = 99_965, 100_000, 37_597


def _day(review_id: int) -> date:
    return next((day for day, last in LAST_ID.items() if review_id <= last), D3)


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    with seed.open_text(path) as text:
        header, *rows = csv.reader(text)
    return header, rows


def _split() -> dict[date, dict[str, bytes]]:
    """Each date's review and log file."""
    files: dict[date, dict[str, bytes]] = {}
    for source, id_at, shift in ((MOVIE_REVIEW, 2, 0), (LOG_REVIEWS, 0, LATE)):
        header, rows = _read(FILES[source])
        by_day: dict[date, list[list[str]]] = {D1: [], D2: [], D3: []}
        for row in rows:
            by_day[_day(int(row[id_at]) + shift)].append(row)
        by_day[D3] += [row for row in by_day[D1] if int(row[id_at]) in REPEATED]
        for day, day_rows in by_day.items():
            text = io.StringIO()
            writer = csv.writer(text, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(day_rows)
            files.setdefault(day, {})[source] = text.getvalue().encode()
    return files


def _purchases() -> bytes:
    """The real purchases' first ``PURCHASES`` records as ``extract_postgres`` exports them (``obt seed``'s
    conversion; the file has one record a line)."""
    spool = io.BytesIO()
    spool.write((",".join(name for name, _ in seed.COLUMNS) + "\n").encode())
    with seed.open_text(FILES["purchases"]) as text:
        assert seed.spool_converted(io.StringIO("".join(islice(text, PURCHASES + 1))), spool) == PURCHASES
    return spool.getvalue()


@pytest.fixture(scope="module")
def builds(spark, tmp_path_factory, storage_emulator):
    """By name, each build's manifest and its OBT and quarantine as DataFrames: ``full`` (the three dates, every
    one classified), ``incremental`` (D2 re-uploaded unchanged: D1 and D3 reused, D2 classified)."""
    if not all(path.exists() for path in FILES.values()):
        pytest.skip(f"real data not found at {SHARED_DATA}")
    files = _split()
    bucket = RawBucket()
    bucket.put(f"{SNAPSHOT}part-00000.csv", _purchases())
    bucket.put(f"{SNAPSHOT}_MANIFEST.json", b"")

    def put_date(day: date) -> None:
        for source, data in files[day].items():
            bucket.put(f"{source}/ingest_date={day}/{source}.csv", data)

    done = {}

    def build(name: str, *flags: str) -> None:
        mirror = tmp_path_factory.mktemp(f"real-{name}")  # a fresh mirror: the layer only in the emulator
        manifest = build_in_mirror(spark, bucket, SNAPSHOT, mirror, f"obt-{name}", *flags)
        outputs = mirror / CURATED
        quarantine = [str(outputs / f"quarantine/{source}/build_id=obt-{name}") for source in ALL_SOURCES]
        done[name] = {
            "manifest": manifest,
            "obt": spark.read.parquet(str(outputs / f"obt/build_id=obt-{name}")),
            "quarantine": spark.read.parquet(*quarantine).select("reason", "raw", "detail"),
        }

    for day in (D1, D2, D3):
        put_date(day)
    build("full", "--full-rebuild")
    put_date(D2)
    build("incremental")
    return done


def test_the_incremental_obt_equals_a_full_rebuild_row_for_row(builds):
    incremental, full = builds["incremental"], builds["full"]
    assert incremental["manifest"]["status"] == full["manifest"]["status"] == "succeeded"
    for key in ("sources", "metrics"):
        assert incremental["manifest"][key] == full["manifest"][key], key
    for key in ("rows", "partitions"):  # per log_date: rows and digest
        assert incremental["manifest"]["obt"][key] == full["manifest"]["obt"][key], key
    for kind in ("obt", "quarantine"):
        ours, oracle = incremental[kind], full[kind]
        assert ours.count() == oracle.count(), kind
        assert ours.exceptAll(oracle).isEmpty() and oracle.exceptAll(ours).isEmpty(), kind


def test_the_split_files_give_the_reference_figures(builds):
    manifest = builds["incremental"]["manifest"]
    metrics = manifest["metrics"]
    assert manifest["obt"]["rows"] == builds["incremental"]["obt"].count() == OBT_ROWS
    assert (metrics["reviews"], metrics["positive_reviews"]) == (REVIEWS, POSITIVE)
    assert manifest["sources"]["user_purchase"]["read"] == PURCHASES
    assert metrics["customers_with_purchases"] > 0  # the OBT rows of these customers carry their metrics
    assert manifest["sources"]["review_log_join"]["kept"] == REVIEWS
    for source in (MOVIE_REVIEW, LOG_REVIEWS):
        counts = manifest["sources"][source]
        assert (counts["read"], counts["kept"]) == (REVIEWS + len(REPEATED), REVIEWS), source
        assert counts["quarantined"] == dict.fromkeys(REASONS[source], 0) | {"duplicate": len(REPEATED)}, source
        # Each repeat is quarantined on the later date: the first date's copy is kept.
        assert counts["by_date"][str(D3)]["quarantined"]["duplicate"] == len(REPEATED), source
        for measure in ("read", "kept"):
            assert sum(d[measure] for d in counts["by_date"].values()) == counts[measure], (source, measure)
    for counts in manifest["sources"].values():
        assert counts["read"] == counts["kept"] + sum(counts["quarantined"].values())


def test_the_build_reuses_the_dates_it_has_and_classifies_the_reuploaded_one(builds):
    reused = {
        name: {day: found["reused"] for day, found in builds[name]["manifest"]["vendor_dates"].items()}
        for name in ("full", "incremental")
    }
    assert reused["full"] == dict.fromkeys(map(str, (D1, D2, D3)), False)
    assert reused["incremental"] == {
        str(D1): True,
        str(D2): False,
        str(D3): True,
    }
