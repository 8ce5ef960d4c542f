"""The real vendor files split over three ingest dates: builds that reuse the classified layer give the reference
figures and equal a full rebuild of the same inputs, row for row.

The reviews and logs of ``../shared/data`` are cut by review id into three dates; each date's last 1,000 logs
arrive a date late (so a log joins its review across dates), and the third date repeats 50 reviews of the first
with their logs (kept once). The real purchases (the PostgreSQL export ``extract_postgres`` lands) are the snapshot.
The job runs on the first two dates, then on all three (reusing the first two from the classified layer it finds
through the storage emulator, from a fresh mirror folder), then with ``--full-rebuild`` on the same inputs, the
oracle. (Three builds on 100,000 reviews: the fewest that take a reused date, a new one and the oracle.)
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal
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
# The reference figures (../shared/data/README.md), whatever the dates the vendor files came on.
OBT_ROWS, REVIEWS, POSITIVE = 99_965, 100_000, 37_597
CUSTOMERS, AMOUNT_SPENT = 4_335, Decimal("8833773.964")


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
    """The real purchases as ``extract_postgres`` exports them (``obt seed``'s conversion)."""
    spool = io.BytesIO()
    spool.write((",".join(name for name, _ in seed.COLUMNS) + "\n").encode())
    with seed.open_text(FILES["purchases"]) as text:
        seed.spool_converted(text, spool)
    return spool.getvalue()


@pytest.fixture(scope="module")
def builds(spark, tmp_path_factory, storage_emulator):
    """By name, each build's manifest and its OBT and quarantine as DataFrames: ``b2`` (D1, D2), ``b3`` (D3
    added), ``full`` (``b3``'s inputs, every date classified again)."""
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

    put_date(D1)
    put_date(D2)
    build("b2")
    put_date(D3)
    build("b3")
    build("full", "--full-rebuild")
    return done


def test_the_incremental_obt_equals_a_full_rebuild_row_for_row(builds):
    incremental, full = builds["b3"], builds["full"]
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
    manifest = builds["b3"]["manifest"]
    metrics = manifest["metrics"]
    assert manifest["obt"]["rows"] == builds["b3"]["obt"].count() == OBT_ROWS
    assert (metrics["reviews"], metrics["positive_reviews"]) == (REVIEWS, POSITIVE)
    assert metrics["customers_with_purchases"] == CUSTOMERS
    assert Decimal(metrics["amount_spent_total"]) == AMOUNT_SPENT
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


def test_logs_arriving_a_date_late_wait_as_orphans_then_join(builds):
    """The build of the first two dates has D2's last reviews without their logs (they come on D3), and reuses
    nothing; the next build reuses both dates and joins every review."""
    first, second = (builds[name]["manifest"] for name in ("b2", "b3"))
    waiting = first["sources"]["review_log_join"]["quarantined"]
    assert waiting["review_without_log"] == LATE and waiting["log_without_review"] == 0
    assert first["sources"]["review_log_join"]["kept"] == LAST_ID[D2] - LATE
    assert {day: found["reused"] for day, found in first["vendor_dates"].items()} == {str(D1): False, str(D2): False}
    assert {day: found["reused"] for day, found in second["vendor_dates"].items()} == {
        str(D1): True,
        str(D2): True,
        str(D3): False,
    }
    assert not any(found["reused"] for found in builds["full"]["manifest"]["vendor_dates"].values())
