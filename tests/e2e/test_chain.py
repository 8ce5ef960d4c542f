"""End to end on generated data: events, batches, messages and the MERGE, in awkward orders.

One local cloud serves the whole scenario, which replays what production sees: the vendor's files land
before the nightly extract, a vendor re-uploads a file, and a second day of vendor files arrives.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from obt import clients
from obt.warehouse import open_warehouse
from obt_contract import sources
from obt_tools import demo

pytestmark = pytest.mark.slow

SCALE = 0.02
DAY1 = date(2026, 11, 20)
DAY2 = date(2026, 11, 21)


def batch_ids(session: demo.DemoSession) -> set[str]:
    parent = f"projects/{session.settings.project}/locations/{session.settings.region}"
    return {b.name.rsplit("/", 1)[1] for b in clients.batches(session.settings).list_batches(parent=parent)}


def obt_rows(session: demo.DemoSession) -> list[dict]:
    return open_warehouse(session.settings).query(
        "SELECT * FROM movie_analytics.obt ORDER BY customer_id, log_date, device, location, os, browser"
    )


def assert_counts_add_up(manifest: dict) -> None:
    for source, counts in manifest["sources"].items():
        assert counts["read"] == counts["kept"] + sum(counts["quarantined"].values()), source


def test_vendor_first_duplicate_upload_and_second_day(session: demo.DemoSession, tmp_path: Path) -> None:
    day1 = demo.generated_inputs(tmp_path / "day1", SCALE, seed_value=7)
    day2_reviews = demo.generated_inputs(tmp_path / "day2", SCALE, seed_value=8, id_offset=10_000_000)

    # 1. The vendor's files land before any purchase snapshot: nothing can be built yet.
    for source, path in day1.vendor().items():
        session.upload_vendor(source, path, DAY1)
    with pytest.raises(Exception, match="complete user_purchase snapshot"):
        session.expected_build()

    # 2. The nightly extract lands the snapshot; its manifest's event completes the inputs: one build.
    session.seed_postgres(day1.purchases)
    snapshot = session.extract(DAY1)
    first = session.expected_build()
    loaded = session.wait_for_load(first.build_id)
    assert loaded.manifest["status"] == "succeeded"
    assert loaded.ledger["outcome"] == "loaded"
    assert_counts_add_up(loaded.manifest)
    assert loaded.manifest["sources"]["user_purchase"]["read"] == snapshot["total_rows"]
    rows = obt_rows(session)
    assert len(rows) == loaded.manifest["obt"]["rows"] == loaded.ledger["rows_inserted"]
    assert {r["build_id"] for r in rows} == {first.build_id}
    assert batch_ids(session) == {first.build_id}, "waiting vendor events must not have submitted a batch"

    # 3. The vendor uploads the same file again: a new generation, so a new build, with identical output.
    session.upload_vendor(sources.MOVIE_REVIEW, day1.movie_review, DAY1)
    again = session.expected_build()
    assert again.build_id != first.build_id
    reloaded = session.wait_for_load(again.build_id)
    assert reloaded.ledger["outcome"] == "loaded"
    assert (reloaded.ledger["rows_inserted"], reloaded.ledger["rows_updated"], reloaded.ledger["rows_deleted"]) == (
        0,
        0,
        0,
    )
    assert obt_rows(session) == rows, "an identical build must leave every row untouched (build_id, loaded_at)"

    # 4. A second day of vendor files: the build covers both days and the OBT grows.
    for source, path in day2_reviews.vendor().items():
        session.upload_vendor(source, path, DAY2)
    both = session.expected_build()
    assert both.vendor_dates == (DAY1, DAY2)
    grown = session.wait_for_load(both.build_id)
    assert_counts_add_up(grown.manifest)
    day1_reviews = loaded.manifest["sources"]["movie_review"]["read"]
    assert grown.manifest["sources"]["movie_review"]["read"] > day1_reviews
    assert grown.ledger["rows_inserted"] > 0
    assert len(obt_rows(session)) == grown.manifest["obt"]["rows"]
    assert batch_ids(session) == {first.build_id, again.build_id, both.build_id}
