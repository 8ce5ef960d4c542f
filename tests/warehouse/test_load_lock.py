"""The load lock (``sql/load_lock.sql``): every load's transaction first updates one row, so that two loads at once
conflict even when neither has a partition to MERGE (its ledger row alone is an append, which conflicts with
nothing). BigQuery cannot run here; DuckDB's MVCC finds the same write-write conflict between two transactions on
one database, which the adapter's file lock otherwise keeps from arising."""

from __future__ import annotations

from contextlib import suppress

import duckdb
import pytest

from obt.warehouse.base import MergeScope, ledger_row

BASE, LATER, OTHER = ("obt-" + digit * 20 for digit in "789")


def lock_rows(wh) -> list[dict]:
    return wh.query("SELECT held_by FROM obt_ops.load_lock")


def two_transactions(wh):
    """Two connections to the warehouse's database, each inside its own open transaction."""
    conn = duckdb.connect(str(wh.path))
    first, second = conn.cursor(), conn.cursor()
    for cursor in (first, second):
        cursor.execute("BEGIN TRANSACTION")
    return conn, first, second


def append_ledger_row(wh, cursor, build_id: str) -> None:
    wh._execute(
        cursor,
        "INSERT INTO obt_ops.load_ledger (build_id, outcome) VALUES (@build_id, 'loaded')",
        {"build_id": build_id},
    )


def test_the_schema_has_one_lock_row_however_often_it_is_checked(warehouse):
    warehouse.ensure_schema()
    warehouse.ensure_schema()
    assert lock_rows(warehouse) == [{"held_by": ""}]


def test_a_load_that_changes_no_partition_still_takes_the_lock(warehouse, tmp_path):
    warehouse.stage(BASE, [])
    loaded = ledger_row(build_id=BASE, outcome="loaded", input_watermark=1, manifest_uri="gs://c/m.json")
    assert warehouse.merge(BASE, loaded).ledger is not None
    warehouse.stage(LATER, [])
    merged = warehouse.merge(LATER, {**loaded, "build_id": LATER, "input_watermark": 2}, scope=MergeScope((), BASE))
    assert merged.ledger["partitions"] == "[]" and merged.counts.inserted == 0
    assert lock_rows(warehouse) == [{"held_by": LATER}]


def test_two_loads_taking_the_lock_at_once_conflict_where_two_appends_alone_would_not(warehouse):
    # Without the lock: two no-change loads (a ledger row each) commit side by side against one base.
    conn, first, second = two_transactions(warehouse)
    append_ledger_row(warehouse, first, LATER)
    append_ledger_row(warehouse, second, OTHER)
    first.execute("COMMIT")
    second.execute("COMMIT")
    conn.close()
    assert len(warehouse.query("SELECT * FROM obt_ops.load_ledger")) == 2
    # With it, as every load now begins: the second to take it fails, and its transaction commits nothing.
    conn, first, second = two_transactions(warehouse)
    take = warehouse.sql("take_load_lock")
    warehouse._execute(first, take, {"build_id": LATER})
    append_ledger_row(warehouse, first, LATER)
    with pytest.raises(duckdb.TransactionException, match="(?i)conflict"):
        warehouse._execute(second, take, {"build_id": OTHER})
        append_ledger_row(warehouse, second, OTHER)
        second.execute("COMMIT")
    with suppress(duckdb.TransactionException):  # a failed COMMIT has ended it already
        second.execute("ROLLBACK")
    first.execute("COMMIT")
    conn.close()
    assert lock_rows(warehouse) == [{"held_by": LATER}]
    assert [r["build_id"] for r in warehouse.query("SELECT build_id FROM obt_ops.load_ledger")].count(OTHER) == 1


def test_the_lock_sql_runs_inside_the_transaction_before_the_ledger_is_read(warehouse):
    """The DuckDB adapter takes the lock first, as the BigQuery script does (test_bigquery_adapter)."""
    calls = []
    execute = warehouse._execute

    def recording(conn, sql, params):
        calls.append(sql)
        return execute(conn, sql, params)

    warehouse.stage(BASE, [])
    warehouse._execute = recording
    warehouse.merge(BASE, ledger_row(build_id=BASE, outcome="loaded", input_watermark=1, manifest_uri="gs://c/m"))
    assert calls[0] == warehouse.sql("take_load_lock") and "load_ledger" in calls[1]
