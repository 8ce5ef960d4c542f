"""Each vendor date is classified once: builds that reuse the classified layer equal a full rebuild.

Generated vendor files (``obt_tools.generate``, ids ``id_offset`` apart) arrive over five ingest dates, with what
makes dates depend on each other: a row repeated exactly on a later date (kept once), two different rows with one
review id on different dates (all quarantined, their raw text in the quarantine), a log that arrives a date after
its review (an orphan until then, joined once it comes), and a past date re-uploaded with new content (a new
generation). The job runs on the first three dates, then once per drop (the fourth date; the re-upload with the
fifth), each time in local mirror mode with a fresh mirror folder, so a build finds the earlier dates' markers and
files only through the storage emulator; then once with ``--full-rebuild`` on the final inputs, the oracle: the same
OBT row for row, the same quarantine, the same counts. (Four builds, not one per date: each costs 5-15 s on the
shared 2-core machine.)
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta

import pytest

from obt_contract.sources import ALL_SOURCES, LOG_REVIEWS, MOVIE_REVIEW
from obt_tools import generate
from tests.spark_jobs.helpers import CURATED, RawBucket, build_in_mirror

pytestmark = pytest.mark.slow

SCALE = 0.01  # 1,000 reviews and logs a date
SEED = 11
OFFSET = 10_000  # review ids of the i-th date: i * OFFSET + 1 ..
DAYS = [date(2026, 11, 20) + timedelta(days=i) for i in range(5)]
D1, D2, D3, D4, D5 = DAYS
REPEATED = 1  # D1's first review and its log, again on D3: kept once
CONFLICTING = OFFSET + 5  # a D2 review; D4 brings another row with its id: both quarantined
DELAYED = 2 * OFFSET + 10  # a D3 review whose log arrives on D4
EDITED = OFFSET + 20  # a D2 review whose text the re-upload of D2 changes
DROPPED = range(OFFSET + 991, OFFSET + 1001)  # D2's last reviews and logs, gone from the re-upload
SNAPSHOT = "user_purchase/ingest_date=2026-11-24/run_id=r1/"
PURCHASES = "\n".join(
    ["invoice_number,stock_code,detail,quantity,invoice_date,unit_price,customer_id,country"]
    + [f"{536365 + i},85123A,HEART,{i % 5 + 1},2010-12-01 08:26:00,2.550,{12346 + i},France" for i in range(44)]
)


def _csv(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return text.getvalue().encode()


def _vendor_files() -> tuple[dict[date, dict[str, list[tuple[str, ...]]]], dict[str, list[tuple[str, ...]]]]:
    """Each date's review and log rows, then the re-upload of D2's."""
    rows = {
        day: {
            MOVIE_REVIEW: list(generate.review_rows(SCALE, SEED, id_offset=i * OFFSET)),
            LOG_REVIEWS: list(generate.log_rows(SCALE, SEED, id_offset=i * OFFSET)),
        }
        for i, day in enumerate(DAYS)
    }
    review = {int(r[2]): r for r in rows[D2][MOVIE_REVIEW]}
    for source, id_at in ((MOVIE_REVIEW, 2), (LOG_REVIEWS, 0)):
        first = next(r for r in rows[D1][source] if int(r[id_at]) == REPEATED)
        rows[D3][source].append(first)
    cid, text, _ = review[CONFLICTING]
    rows[D4][MOVIE_REVIEW].append((cid, "another text entirely", str(CONFLICTING)))
    delayed = [r for r in rows[D3][LOG_REVIEWS] if int(r[0]) == DELAYED]
    rows[D3][LOG_REVIEWS] = [r for r in rows[D3][LOG_REVIEWS] if int(r[0]) != DELAYED]
    rows[D4][LOG_REVIEWS] += delayed
    reupload = {
        MOVIE_REVIEW: [
            (c, f"{t} (edited)" if int(i) == EDITED else t, i)
            for c, t, i in rows[D2][MOVIE_REVIEW]
            if int(i) not in DROPPED
        ],
        LOG_REVIEWS: [r for r in rows[D2][LOG_REVIEWS] if int(r[0]) not in DROPPED],
    }
    return rows, reupload


@pytest.fixture(scope="module")
def builds(spark, tmp_path_factory, storage_emulator):
    """Every build's manifest, OBT rows and quarantine rows, by the last date it has: ``b3`` (D1..D3), ``b4`` (D4
    added), ``b5`` (D2 re-uploaded, D5 added), then ``full`` on ``b5``'s inputs."""
    from pyspark.sql import functions as F

    rows, reupload = _vendor_files()
    bucket = RawBucket()
    bucket.put(f"{SNAPSHOT}part-00000.csv", PURCHASES.encode())
    bucket.put(f"{SNAPSHOT}_MANIFEST.json", b"")  # written into each mirror by build_in_mirror
    headers = {MOVIE_REVIEW: generate.REVIEW_HEADER, LOG_REVIEWS: generate.LOG_HEADER}

    def put_date(day: date, files: dict[str, list[tuple[str, ...]]]) -> None:
        for source, source_rows in files.items():
            bucket.put(f"{source}/ingest_date={day}/{source}.csv", _csv(headers[source], source_rows))

    done = {}

    def build(name: str, *flags: str) -> None:
        mirror = tmp_path_factory.mktemp(f"mirror-{name}")  # a fresh mirror: the layer only in the emulator
        manifest = build_in_mirror(spark, bucket, SNAPSHOT, mirror, f"obt-{name}", *flags)
        outputs = mirror / CURATED
        # Every source's quarantine in one read (each Spark job costs ~1 s here), told apart by file path.
        folders = {source: f"/quarantine/{source}/build_id=obt-{name}/" for source in ALL_SOURCES}
        rejected = spark.read.parquet(*[f"{outputs}{folder}" for folder in folders.values()])
        quarantine = {source: Counter() for source in ALL_SOURCES}
        for row in rejected.select("reason", "raw", "detail", F.col("_metadata.file_path").alias("path")).collect():
            source = next(source for source, folder in folders.items() if folder in row["path"])
            quarantine[source][(row["reason"], row["raw"], row["detail"])] += 1
        obt = Counter(tuple(r) for r in spark.read.parquet(str(outputs / f"obt/build_id=obt-{name}")).collect())
        done[name] = {"manifest": manifest, "obt": obt, "quarantine": quarantine}

    for day in (D1, D2, D3):
        put_date(day, rows[day])
    build("b3")
    put_date(D4, rows[D4])
    build("b4")
    put_date(D2, reupload)
    put_date(D5, rows[D5])
    build("b5")
    build("full", "--full-rebuild")
    return done


def test_the_incremental_obt_equals_a_full_rebuild_row_for_row(builds):
    incremental, full = builds["b5"], builds["full"]
    assert incremental["manifest"]["status"] == full["manifest"]["status"] == "succeeded"
    assert sum(incremental["obt"].values()) == incremental["manifest"]["obt"]["rows"] > 4_000
    assert incremental["obt"] == full["obt"]
    assert incremental["quarantine"] == full["quarantine"]
    for key in ("sources", "metrics"):
        assert incremental["manifest"][key] == full["manifest"][key], key
    assert incremental["manifest"]["obt"]["partitions"] == full["manifest"]["obt"]["partitions"]
    # Every rejected row keeps its record, whether its own date's layer kept it or its texts were read again.
    assert all(raw for rows in incremental["quarantine"].values() for _, raw, _ in rows)


def test_counts_add_up_per_source_and_per_date(builds):
    for name, done in builds.items():
        sources = done["manifest"]["sources"]
        for source, counts in sources.items():
            assert counts["read"] == counts["kept"] + sum(counts["quarantined"].values()), (name, source)
            assert sum(done["quarantine"][source].values()) == sum(counts["quarantined"].values()), (name, source)
        for source in (MOVIE_REVIEW, LOG_REVIEWS):
            by_date = sources[source]["by_date"]
            assert list(by_date) == list(done["manifest"]["vendor_dates"]), (name, source)
            for measure in ("read", "kept"):
                assert sum(d[measure] for d in by_date.values()) == sources[source][measure], (name, source)
            for reason, total in sources[source]["quarantined"].items():
                assert sum(d["quarantined"][reason] for d in by_date.values()) == total, (name, source, reason)
        partitions = done["manifest"]["obt"]["partitions"]
        assert sum(p["rows"] for p in partitions.values()) == done["manifest"]["obt"]["rows"], name
        assert all(len(p["digest"]) == 16 and int(p["digest"], 16) >= 0 for p in partitions.values()), name


def test_a_build_reuses_every_older_date_and_classifies_only_new_or_reuploaded_ones(builds):
    def reused(name: str) -> dict[str, bool]:
        return {day: found["reused"] for day, found in builds[name]["manifest"]["vendor_dates"].items()}

    assert reused("b3") == {str(D1): False, str(D2): False, str(D3): False}
    assert reused("b4") == {str(D1): True, str(D2): True, str(D3): True, str(D4): False}
    # The re-upload replaces D2 only.
    assert reused("b5") == {str(D1): True, str(D2): False, str(D3): True, str(D4): True, str(D5): False}
    assert not any(reused("full").values())
    b4, b5 = builds["b4"]["manifest"]["vendor_dates"], builds["b5"]["manifest"]["vendor_dates"]
    assert b5[str(D1)] == b4[str(D1)] and b5[str(D2)]["layer"] != b4[str(D2)]["layer"]
    assert all(isinstance(found["generation"], int) for found in b5.values())
    # The re-upload's rows replace D2's: fewer of them, and its edited review conflicts with no older version.
    before, after = (builds[name]["manifest"]["sources"][MOVIE_REVIEW] for name in ("b4", "b5"))
    assert after["by_date"][str(D2)]["read"] == before["by_date"][str(D2)]["read"] - len(DROPPED)
    assert after["quarantined"]["conflicting_review_id"] == before["quarantined"]["conflicting_review_id"] == 2


def _by_reason(rows: Counter, reason: str) -> list[tuple[str, str]]:
    return sorted((raw, detail) for r, raw, detail in rows.elements() if r == reason)


def _review_id(source: str, raw: str) -> str:
    """A vendor record's review id: a review's last field, a log's first."""
    return raw.rsplit(",", 1)[1] if source == MOVIE_REVIEW else raw.split(",", 1)[0]


def test_a_row_repeated_on_a_later_date_is_kept_once(builds):
    quarantine = builds["b5"]["quarantine"]
    for source in (MOVIE_REVIEW, LOG_REVIEWS):
        repeats = [
            raw for raw, _ in _by_reason(quarantine[source], "duplicate") if _review_id(source, raw) == str(REPEATED)
        ]
        assert repeats, source
    by_date = builds["b5"]["manifest"]["sources"][MOVIE_REVIEW]["by_date"]
    assert by_date[str(D3)]["quarantined"]["duplicate"] >= 1
    first = builds["b3"]["manifest"]["sources"][MOVIE_REVIEW]["by_date"]
    assert by_date[str(D1)] == first[str(D1)] and by_date[str(D3)] == first[str(D3)]


def test_different_rows_with_one_review_id_on_different_dates_are_all_quarantined_with_their_text(builds):
    assert builds["b3"]["manifest"]["sources"][MOVIE_REVIEW]["quarantined"]["conflicting_review_id"] == 0
    conflicts = _by_reason(builds["b4"]["quarantine"][MOVIE_REVIEW], "conflicting_review_id")
    assert [_review_id(MOVIE_REVIEW, raw) for raw, _ in conflicts] == [str(CONFLICTING)] * 2
    assert any("another text entirely" in raw for raw, _ in conflicts)
    assert {detail for _, detail in conflicts} == {f"review_id {CONFLICTING} has 2 different rows"}
    # Its log lost its review: an orphan, its record read from D2's layer.
    orphans = _by_reason(builds["b4"]["quarantine"]["review_log_join"], "log_without_review")
    assert any(raw.startswith(f"{CONFLICTING},<reviewlog>") for raw, _ in orphans)


def test_a_log_arriving_a_date_after_its_review_joins_it(builds):
    waiting = _by_reason(builds["b3"]["quarantine"]["review_log_join"], "review_without_log")
    assert [detail for _, detail in waiting] == [f"no log for review id {DELAYED}"]
    assert waiting[0][0].endswith(f",{DELAYED}") and len(waiting[0][0]) > 20
    joined = builds["b4"]["manifest"]["sources"]["review_log_join"]
    assert joined["quarantined"]["review_without_log"] == 0
    assert not any(detail.endswith(f" {DELAYED}") for _, _, detail in builds["b4"]["quarantine"]["review_log_join"])
