"""MERGE semantics on the local warehouse: the OBT equals the staged build; unchanged rows are untouched;
the MERGE and its ledger row commit together or not at all."""

from __future__ import annotations

import itertools
import threading
import time

import duckdb
import pytest

from obt.warehouse.base import ledger_row
from obt_contract.schema import ADDED_COLUMNS
from tests.warehouse.obt_rows import KEY, SCHEMA, SCHEMA_BEFORE_ADDED, change, key, make_rows, write_parquet

B1 = "obt-" + "1" * 20
B2 = "obt-" + "2" * 20
B3 = "obt-" + "3" * 20
WATERMARKS = itertools.count(1)


def loaded_row(build_id, watermark=None):
    return ledger_row(
        build_id=build_id, outcome="loaded", input_watermark=next(WATERMARKS) if watermark is None else watermark
    )


def load(wh, build_id, rows, folder, watermark=None, schema=SCHEMA):
    files = write_parquet(rows, folder, schema=schema)
    staged = wh.stage(build_id, [str(f) for f in files])
    counts = wh.merge(build_id, loaded_row(build_id, watermark)).counts
    wh.drop_staging(build_id)
    return staged, counts


def table(wh) -> dict[tuple, dict]:
    cols = ", ".join(KEY)
    rows = wh.query(f"SELECT * FROM movie_analytics.obt ORDER BY {cols}")
    return {key(r): r for r in rows}


def data_only(rows: dict[tuple, dict]) -> dict[tuple, dict]:
    return {k: {c: v for c, v in r.items() if c not in ("build_id", "loaded_at")} for k, r in rows.items()}


def test_first_load_gives_exactly_the_build_rows(warehouse, tmp_path):
    rows = make_rows(500)
    staged, counts = load(warehouse, B1, rows, tmp_path / "b1")
    assert staged.rows == 500 and staged.bytes > 0
    assert (counts.inserted, counts.updated, counts.deleted) == (500, 0, 0)
    assert data_only(table(warehouse)) == {key(r): r for r in rows}
    assert {r["build_id"] for r in table(warehouse).values()} == {B1}


def test_reload_of_the_same_rows_changes_nothing(warehouse, tmp_path):
    rows = make_rows(300)
    load(warehouse, B1, rows, tmp_path / "b1")
    before = table(warehouse)
    _, counts = load(warehouse, B2, rows, tmp_path / "b2")
    assert (counts.inserted, counts.updated, counts.deleted) == (0, 0, 0)
    assert table(warehouse) == before  # build_id and loaded_at untouched


def test_newer_build_updates_changed_inserts_new_deletes_vanished(warehouse, tmp_path):
    rows = make_rows(1000)
    load(warehouse, B1, rows, tmp_path / "b1")
    before = table(warehouse)
    time.sleep(0.01)
    newer, changed, vanished = change(rows, 0.01)
    _, counts = load(warehouse, B2, newer, tmp_path / "b2")
    after = table(warehouse)
    assert data_only(after) == {key(r): r for r in newer}
    assert counts.updated == len(changed) == 10
    assert counts.deleted == len(vanished) == 10
    assert counts.inserted == 10
    assert not vanished & after.keys()
    for k, row in after.items():
        if k in changed or k not in before:
            assert row["build_id"] == B2 and row["loaded_at"] > max(r["loaded_at"] for r in before.values())
        else:
            assert row == before[k]


def test_null_keys_match_null_safely(warehouse, tmp_path):
    rows = [r for r in make_rows(200) if r["location"] is None]
    assert rows
    load(warehouse, B1, rows, tmp_path / "b1")
    _, counts = load(warehouse, B2, rows, tmp_path / "b2")
    assert (counts.inserted, counts.updated, counts.deleted) == (0, 0, 0)
    assert len(table(warehouse)) == len(rows)


def test_restaging_replaces_the_staging_table(warehouse, tmp_path):
    rows = make_rows(50)
    files = [str(f) for f in write_parquet(rows, tmp_path / "b1")]
    warehouse.stage(B1, files)
    assert warehouse.stage(B1, files).rows == 50
    assert warehouse.merge(B1, loaded_row(B1)).counts.inserted == 50


def ledger(wh) -> list[dict]:
    return wh.query("SELECT build_id, outcome, input_watermark, rows_inserted FROM obt_ops.load_ledger")


def test_merge_writes_its_ledger_row_with_the_counts(warehouse, tmp_path):
    warehouse.stage(B1, [str(f) for f in write_parquet(make_rows(40), tmp_path / "b1")])
    merged = warehouse.merge(B1, loaded_row(B1, watermark=5))
    assert (merged.state.times_loaded, merged.state.last_watermark) == (0, None)
    assert merged.ledger["rows_inserted"] == merged.counts.inserted == 40
    assert merged.ledger["merge_seconds"] >= 0 and merged.ledger["finished_at"] is not None
    assert ledger(warehouse) == [{"build_id": B1, "outcome": "loaded", "input_watermark": 5, "rows_inserted": 40}]


def test_a_crash_between_merge_and_ledger_row_rolls_the_merge_back(warehouse, tmp_path):
    load(warehouse, B1, make_rows(30, seed=1), tmp_path / "b1")
    before, ledger_before = table(warehouse), ledger(warehouse)
    warehouse.stage(B2, [str(f) for f in write_parquet(make_rows(60, seed=2), tmp_path / "b2")])

    def crash():
        raise RuntimeError("crash before the ledger row")

    with pytest.raises(RuntimeError, match="crash before"):
        warehouse.merge(B2, loaded_row(B2), before_ledger=crash)
    assert table(warehouse) == before
    assert ledger(warehouse) == ledger_before


@pytest.mark.parametrize(
    ("build", "watermark", "refusal"), [(B1, 10, "already loaded"), (B2, 9, "older than the last loaded build")]
)
def test_merge_refuses_on_the_ledger_it_reads(warehouse, tmp_path, build, watermark, refusal):
    """The check inside the transaction, even when the caller skipped its own."""
    load(warehouse, B1, make_rows(30, seed=1), tmp_path / "b1", watermark=10)
    before, ledger_before = table(warehouse), ledger(warehouse)
    warehouse.stage(build, [str(f) for f in write_parquet(make_rows(60, seed=2), tmp_path / "again")])
    merged = warehouse.merge(build, loaded_row(build, watermark=watermark))
    assert merged.counts is None and merged.ledger is None
    assert refusal in merged.state.refusal(watermark)
    assert table(warehouse) == before
    assert ledger(warehouse) == ledger_before


def test_parquet_missing_a_column_fails_loudly(warehouse, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"customer_id": [1]}), path)
    with pytest.raises(Exception, match="log_date"):
        warehouse.stage(B1, [str(path)])


def with_added_columns_null(rows: list[dict]) -> dict[tuple, dict]:
    return {key(r): r | dict.fromkeys(ADDED_COLUMNS) for r in rows}


def test_a_build_written_before_the_added_columns_loads_them_as_null(warehouse, tmp_path):
    rows = make_rows(80)
    load(warehouse, B1, rows, tmp_path / "b1", schema=SCHEMA_BEFORE_ADDED)
    assert data_only(table(warehouse)) == with_added_columns_null(rows)
    # A newer build that has them fills them in: exactly the rows that have a value change.
    _, counts = load(warehouse, B2, rows, tmp_path / "b2")
    assert counts.updated == sum(1 for r in rows if any(r[c] is not None for c in ADDED_COLUMNS)) > 0
    assert data_only(table(warehouse)) == {key(r): r for r in rows}


def test_ensure_schema_upgrades_an_obt_created_before_the_added_columns(warehouse, tmp_path):
    """The table as obt.sql created it before ADDED_COLUMNS, holding a load: its rows stay, the columns join NULL."""
    rows = make_rows(60)
    old_build = write_parquet(rows, tmp_path / "old", 1, SCHEMA_BEFORE_ADDED)
    with duckdb.connect(str(warehouse.path)) as con:
        for column in ADDED_COLUMNS:
            con.execute(f"ALTER TABLE movie_analytics.obt DROP COLUMN {column}")
        con.execute(
            "INSERT INTO movie_analytics.obt BY NAME "
            "SELECT *, $b AS build_id, now() AS loaded_at FROM read_parquet($f)",
            {"b": B1, "f": [str(p) for p in old_build]},
        )
    warehouse.ensure_schema()
    warehouse.ensure_schema()  # nothing left to add: a no-op
    with duckdb.connect(str(warehouse.path)) as con:
        columns = [row[0] for row in con.execute("DESCRIBE movie_analytics.obt").fetchall()]
    assert columns[-len(ADDED_COLUMNS) :] == list(ADDED_COLUMNS)
    assert data_only(table(warehouse)) == with_added_columns_null(rows)
    # Loads work on the upgraded table, whose column order differs from a new one's: builds with and without them.
    _, counts = load(warehouse, B2, rows, tmp_path / "b2", schema=SCHEMA_BEFORE_ADDED)
    assert (counts.inserted, counts.updated, counts.deleted) == (0, 0, 0)
    load(warehouse, B3, rows, tmp_path / "b3")
    assert data_only(table(warehouse)) == {key(r): r for r in rows}


def test_dq_counts_are_recorded_once_per_build(warehouse):
    rows = [
        {"source": "user_purchase", "measure": "read", "reason": None, "row_count": 10},
        {"source": "user_purchase", "measure": "quarantined", "reason": "missing_customer", "row_count": 3},
    ]
    warehouse.record_dq_counts(B1, rows)
    warehouse.record_dq_counts(B1, rows)
    got = warehouse.query("SELECT source, measure, reason, row_count FROM obt_ops.dq_counts ORDER BY measure")
    assert got == [
        {"source": "user_purchase", "measure": "quarantined", "reason": "missing_customer", "row_count": 3},
        {"source": "user_purchase", "measure": "read", "reason": None, "row_count": 10},
    ]


def test_query_takes_bigquery_sql_with_parameters(warehouse):
    assert warehouse.query("SELECT @x AS x, SAFE_DIVIDE(1, 0) AS y", {"x": "a"}) == [{"x": "a", "y": None}]
    assert warehouse.query("CREATE OR REPLACE VIEW movie_analytics.v AS SELECT 1 AS one") == []
    assert warehouse.query("SELECT one FROM `any-project.movie_analytics.v`") == [{"one": 1}]


def test_sessions_exclude_each_other_across_threads(warehouse):
    inside, overlaps = [], []

    def work():
        with warehouse.serialized():
            if inside:
                overlaps.append(True)
            inside.append(1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not overlaps


def test_a_ledger_row_has_every_column_and_no_other():
    assert ledger_row(build_id=B1)["rows_inserted"] is None
    with pytest.raises(ValueError, match="not ledger columns"):
        ledger_row(rows_merged=1)
