"""A MERGE bounded to some ``log_date`` partitions (``MergeScope``) on the local warehouse: it reads and writes those
and nothing else, refuses a scope planned against a build that is no longer the last loaded one, records itself in
the ledger's ``partitions``, and an older ledger gets that column."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from obt.warehouse.base import LoadState, MergeScope, ledger_row
from tests.warehouse.obt_rows import KEY, key, make_rows, write_parquet

B1, B2, B3 = ("obt-" + digit * 20 for digit in "123")
D1, D2 = dt.date(2021, 1, 1), dt.date(2021, 1, 2)
URI = "gs://obt-curated/obt/build_id={}/_MANIFEST.json"


def stage(wh, build_id, rows, folder):
    wh.stage(build_id, [str(f) for f in write_parquet(rows, folder)])


def loaded_row(build_id, watermark):
    return ledger_row(build_id=build_id, outcome="loaded", input_watermark=watermark, manifest_uri=URI.format(build_id))


def table(wh) -> dict[tuple, dict]:
    return {key(r): r for r in wh.query(f"SELECT * FROM movie_analytics.obt ORDER BY {', '.join(KEY)}")}


def data(rows: dict[tuple, dict]) -> dict[tuple, dict]:
    return {k: {c: v for c, v in r.items() if c not in ("build_id", "loaded_at")} for k, r in rows.items()}


def ledger(wh) -> list[dict]:
    return wh.query("SELECT build_id, rows_inserted, rows_updated, rows_deleted, partitions FROM obt_ops.load_ledger")


@pytest.fixture
def first(warehouse, tmp_path):
    """B1 loaded in full: 12 days of rows."""
    rows = make_rows(240)
    stage(warehouse, B1, rows, tmp_path / "b1")
    assert warehouse.merge(B1, loaded_row(B1, 1)).ledger["partitions"] is None
    return rows


def test_a_bounded_merge_reads_and_writes_only_its_partitions(warehouse, tmp_path, first):
    """B2 differs from B1 on every day; MERGEd within days 1 and 2 only, every other day keeps B1's rows. (A
    scope that lies shows what the filter does: the loader only ever plans scopes that cover every change.)"""
    before = table(warehouse)
    changed = [{**r, "review_count": r["review_count"] + 10} for r in first]
    gone = {key(r) for r in changed if r["log_date"] == D1 and r["device"] == "Mobile"}
    newer = [r for r in changed if key(r) not in gone] + [{**first[0], "customer_id": 99_999}]  # new, on day 1
    stage(warehouse, B2, newer, tmp_path / "b2")
    merged = warehouse.merge(B2, loaded_row(B2, 2), scope=MergeScope((D2, D1), B1))
    in_scope = [r for r in newer if r["log_date"] in (D1, D2)]
    assert (merged.counts.inserted, merged.counts.deleted) == (1, len(gone))
    assert merged.counts.updated == len(in_scope) - 1
    after = table(warehouse)
    assert {k: r for k, r in after.items() if k[1] not in (D1, D2)} == {
        k: r for k, r in before.items() if k[1] not in (D1, D2)
    }
    assert data({k: r for k, r in after.items() if k[1] in (D1, D2)}) == {key(r): r for r in in_scope}
    assert ledger(warehouse)[-1]["partitions"] == '["2021-01-01", "2021-01-02"]'


def test_a_scope_planned_against_another_build_changes_nothing(warehouse, tmp_path, first):
    before, ledger_before = table(warehouse), ledger(warehouse)
    stage(warehouse, B2, make_rows(50, seed=2), tmp_path / "b2")
    merged = warehouse.merge(B2, loaded_row(B2, 2), scope=MergeScope((D1,), B3))
    assert merged.counts is None and merged.ledger is None
    assert merged.state == LoadState(0, 1, B1, URI.format(B1))
    assert merged.state.refusal(2) is None and MergeScope((D1,), B3).stale(merged.state)
    assert table(warehouse) == before and ledger(warehouse) == ledger_before


def test_an_empty_scope_records_the_load_without_any_merge(warehouse, tmp_path, first):
    before = table(warehouse)
    stage(warehouse, B2, [{**r, "review_count": 0} for r in first], tmp_path / "b2")  # would change every row
    merged = warehouse.merge(B2, loaded_row(B2, 2), scope=MergeScope((), B1))
    assert (merged.counts.inserted, merged.counts.updated, merged.counts.deleted) == (0, 0, 0)
    assert table(warehouse) == before
    assert ledger(warehouse)[-1] == {
        "build_id": B2,
        "rows_inserted": 0,
        "rows_updated": 0,
        "rows_deleted": 0,
        "partitions": "[]",
    }
    assert warehouse.load_state(B3) == LoadState(0, 2, B2, URI.format(B2))


def test_the_merge_sql_of_a_scope_holds_its_dates_as_literals(warehouse):
    sql = warehouse.sql("merge", B2, MergeScope((D2, D1), B1))
    dates = "DATE '2021-01-01', DATE '2021-01-02'"
    assert f"SELECT * FROM obt_staging.obt_{B2.replace('-', '_')} WHERE log_date IN ({dates})" in sql
    assert f"ON t.log_date IN ({dates})\n" in sql
    assert f"WHEN NOT MATCHED BY SOURCE AND t.log_date IN ({dates}) THEN DELETE" in sql
    assert "WHERE TRUE" in warehouse.sql("merge", B2) and "ON TRUE\n" in warehouse.sql("merge", B2)


def test_ensure_schema_gives_an_older_ledger_its_partitions_column(warehouse, tmp_path):
    """A ledger created before ``partitions`` holding a load: its rows stay (NULL there: full MERGEs), and the
    next load records its partitions."""
    with duckdb.connect(str(warehouse.path)) as con:
        con.execute("ALTER TABLE obt_ops.load_ledger DROP COLUMN partitions")
        con.execute(
            "INSERT INTO obt_ops.load_ledger (build_id, outcome, input_watermark, manifest_uri, finished_at) "
            "VALUES (?, 'loaded', 1, ?, now())",
            [B1, URI.format(B1)],
        )
    warehouse.ensure_schema()
    warehouse.ensure_schema()  # nothing left to add: a no-op
    with duckdb.connect(str(warehouse.path)) as con:
        columns = [row[0] for row in con.execute("DESCRIBE obt_ops.load_ledger").fetchall()]
    assert columns[-1] == "partitions" and columns.count("partitions") == 1
    assert ledger(warehouse) == [
        {"build_id": B1, "rows_inserted": None, "rows_updated": None, "rows_deleted": None, "partitions": None}
    ]
    stage(warehouse, B2, make_rows(30), tmp_path / "b2")
    merged = warehouse.merge(B2, loaded_row(B2, 2), scope=MergeScope((D1,), B1))
    assert json.loads(merged.ledger["partitions"]) == ["2021-01-01"]
    assert ledger(warehouse)[-1]["partitions"] == '["2021-01-01"]'
