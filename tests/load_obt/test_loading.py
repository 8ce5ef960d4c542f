"""The load use case on the local warehouse: every decision, the ledger, DQ counts, crash recovery."""

from __future__ import annotations

import threading

import duckdb
import pytest

from obt.load.messages import parse_message
from obt.load.service import InjectedFault, dq_rows, fault_point, handle_event, load_build
from obt_contract.schema import ADDED_COLUMNS
from tests.load_obt.builds import (
    build_id,
    deliver,
    ledger,
    local_env,
    local_services,
    message,
    obt_rows,
    pubsub_event_data,
)
from tests.warehouse.obt_rows import SCHEMA_BEFORE_ADDED, change, key, make_rows

B1, B2, B3 = build_id("one"), build_id("two"), build_id("three")


@pytest.fixture
def env(tmp_path):
    return local_env(tmp_path)


run = deliver


def test_load_gives_exactly_the_build_rows_and_a_ledger_row(env):
    _, builds, warehouse = env
    rows = make_rows(200)
    builds.add(B1, rows, watermark=100)
    result = run(env, B1)
    assert result.outcome == "loaded"
    got = obt_rows(warehouse)
    assert {k: {c: v for c, v in r.items() if c not in ("build_id", "loaded_at")} for k, r in got.items()} == {
        key(r): r for r in rows
    }
    (row,) = ledger(warehouse)
    assert row["outcome"] == "loaded" and row["build_id"] == B1 and row["input_watermark"] == 100
    assert (row["rows_staged"], row["rows_inserted"], row["rows_updated"], row["rows_deleted"]) == (200, 200, 0, 0)
    assert row["bytes_staged"] > 0 and row["stage_seconds"] >= 0 and row["merge_seconds"] >= 0
    assert row["finished_at"] >= row["started_at"]
    assert '"purchases_manifest"' in row["inputs"]
    assert warehouse.query("SELECT COUNT(*) AS n FROM obt_ops.dq_counts") == [{"n": 6}]
    assert not (env[0].state_dir / "staging").exists() or not any((env[0].state_dir / "staging").iterdir())


def test_same_build_twice_is_skipped(env):
    _, builds, warehouse = env
    builds.add(B1, make_rows(50), watermark=100)
    run(env, B1)
    before = obt_rows(warehouse)
    assert run(env, B1).reason == "already loaded"
    assert obt_rows(warehouse) == before
    assert [r["outcome"] for r in ledger(warehouse)] == ["loaded", "skipped"]
    assert warehouse.query("SELECT COUNT(*) AS n FROM obt_ops.dq_counts") == [{"n": 6}]


def test_three_concurrent_deliveries_load_once(env):
    _, builds, warehouse = env
    builds.add(B1, make_rows(300), watermark=100)
    results, errors = [], []

    def deliver(i):
        try:
            results.append(run(env, B1, message_id=str(i)).outcome)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == ["loaded", "skipped", "skipped"]
    assert len(obt_rows(warehouse)) == 300


def test_newer_build_changes_exactly_the_changed_rows(env):
    _, builds, warehouse = env
    rows = make_rows(1000)
    builds.add(B1, rows, watermark=100)
    run(env, B1)
    newer, changed, vanished = change(rows, 0.01)
    builds.add(B2, newer, watermark=200)
    result = run(env, B2)
    assert (result.ledger["rows_updated"], result.ledger["rows_deleted"], result.ledger["rows_inserted"]) == (
        len(changed),
        len(vanished),
        10,
    )
    got = obt_rows(warehouse)
    assert set(got) == {key(r) for r in newer}
    assert {k for k, r in got.items() if r["build_id"] == B2} == changed | (
        {key(r) for r in newer} - {key(r) for r in rows}
    )


def test_older_build_after_newer_is_skipped(env):
    _, builds, warehouse = env
    builds.add(B2, make_rows(40, seed=2), watermark=200)
    builds.add(B1, make_rows(60, seed=1), watermark=100)
    run(env, B2)
    result = run(env, B1)
    assert result.outcome == "skipped" and "older" in result.reason
    assert len(obt_rows(warehouse)) == 40


def test_an_obt_and_a_build_from_before_the_added_columns_still_load(env):
    """The loader upgrades an OBT created before ADDED_COLUMNS and stages a build written before them as NULLs."""
    _, builds, warehouse = env
    warehouse.ensure_schema()
    with duckdb.connect(str(warehouse.path)) as con:
        for column in ADDED_COLUMNS:
            con.execute(f"ALTER TABLE movie_analytics.obt DROP COLUMN {column}")
    rows = make_rows(70)
    builds.add(B1, rows, watermark=100, schema=SCHEMA_BEFORE_ADDED)
    assert run(env, B1).outcome == "loaded"
    assert {k: {c: r[c] for c in ADDED_COLUMNS} for k, r in obt_rows(warehouse).items()} == {
        key(r): dict.fromkeys(ADDED_COLUMNS) for r in rows
    }
    builds.add(B2, rows, watermark=200)
    assert run(env, B2).outcome == "loaded"
    assert {k: {c: r[c] for c in ADDED_COLUMNS} for k, r in obt_rows(warehouse).items()} == {
        key(r): {c: r[c] for c in ADDED_COLUMNS} for r in rows
    }


def test_failed_build_without_manifest_is_skipped(env):
    _, _, warehouse = env
    result = run(env, B3, status="failed")
    assert result.outcome == "skipped" and "failed" in result.reason
    assert ledger(warehouse)[0]["outcome"] == "skipped"
    assert warehouse.query("SELECT COUNT(*) AS n FROM obt_ops.dq_counts") == [{"n": 0}]


def test_failed_build_with_manifest_keeps_its_dq_counts(env):
    _, builds, warehouse = env
    builds.add(B3, [], watermark=1, status="failed")
    assert run(env, B3, status="failed").outcome == "skipped"
    assert warehouse.query("SELECT COUNT(*) AS n FROM obt_ops.dq_counts") == [{"n": 6}]
    assert warehouse.query("SELECT COUNT(*) AS n FROM movie_analytics.obt") == [{"n": 0}]


def test_transient_storage_error_propagates_and_is_ledgered(env):
    from obt.errors import TransientError

    settings, builds, warehouse = env

    class Down:
        def read_json(self, uri):
            raise TransientError("storage unavailable")

    msg = parse_message(message(B1), settings.curated_bucket)
    with pytest.raises(TransientError):
        load_build(msg, settings, local_services(settings, Down(), warehouse))
    assert [(r["outcome"], r["reason"]) for r in ledger(warehouse)] == [
        ("failed", "TransientError: storage unavailable")
    ]


def test_manifest_status_failed_is_skipped_but_dq_recorded(env):
    _, builds, warehouse = env
    builds.add(B1, [], watermark=1, status="failed")
    assert run(env, B1).outcome == "skipped"
    assert warehouse.query("SELECT COUNT(*) AS n FROM obt_ops.dq_counts") == [{"n": 6}]


def test_missing_manifest_is_rejected(env):
    result = run(env, B3)
    assert result.outcome == "rejected" and "not found" in result.reason


def test_manifest_of_another_build_is_rejected(env):
    _, builds, _ = env
    doc = builds.add(B1, make_rows(5), watermark=1)
    doc["build_id"] = B2
    assert run(env, B1).outcome == "rejected"


def test_manifest_pointing_outside_its_folder_is_rejected(env):
    _, builds, _ = env
    doc = builds.add(B1, make_rows(5), watermark=1)
    doc["obt"]["uri_prefix"] = "gs://elsewhere/obt/"
    result = run(env, B1)
    assert result.outcome == "rejected" and "uri_prefix" in result.reason


def test_row_count_mismatch_is_rejected_and_nothing_merged(env):
    _, builds, warehouse = env
    doc = builds.add(B1, make_rows(5), watermark=1)
    doc["obt"]["rows"] = 6
    assert run(env, B1).outcome == "rejected"
    assert obt_rows(warehouse) == {}


def test_crash_between_staging_and_merge_recovers_on_redelivery(env, monkeypatch, tmp_path):
    _, builds, warehouse = env
    rows = make_rows(100)
    builds.add(B1, rows, watermark=1)
    token = tmp_path / "fault-token"
    token.touch()
    monkeypatch.setenv("OBT_FAULT", "after_staging")
    monkeypatch.setenv("OBT_FAULT_TOKEN", str(token))
    with pytest.raises(InjectedFault):
        run(env, B1)
    assert obt_rows(warehouse) == {}
    assert run(env, B1).outcome == "loaded"
    assert len(obt_rows(warehouse)) == 100
    assert [r["outcome"] for r in ledger(warehouse)] == ["failed", "loaded"]


def test_a_fault_point_must_be_one_of_the_named_points():
    with pytest.raises(ValueError, match="unknown fault point"):
        fault_point("after_lunch")


def test_malformed_event_is_acknowledged(env):
    settings, builds, warehouse = env
    services = local_services(settings, builds, warehouse)
    assert handle_event({"message": {"data": "bm90IGpzb24="}}, settings, services).outcome == "rejected"


def test_handle_event_loads(env):
    settings, builds, warehouse = env
    builds.add(B1, make_rows(10), watermark=1)
    result = handle_event(pubsub_event_data(message(B1), "77"), settings, local_services(settings, builds, warehouse))
    assert result.outcome == "loaded" and result.ledger["message_id"] == "77"


def test_dq_rows_flatten_sources_and_unknown_locations():
    rows = dq_rows(
        {"s": {"read": 3, "kept": 1, "quarantined": {"b": 1, "a": 1}}}, {"unknown_locations": {"Atlantis": 2}}
    )
    assert rows == [
        {"source": "s", "measure": "read", "reason": None, "row_count": 3},
        {"source": "s", "measure": "kept", "reason": None, "row_count": 1},
        {"source": "s", "measure": "quarantined", "reason": "a", "row_count": 1},
        {"source": "s", "measure": "quarantined", "reason": "b", "row_count": 1},
        {"source": "log_reviews", "measure": "unknown_location", "reason": "Atlantis", "row_count": 2},
    ]
