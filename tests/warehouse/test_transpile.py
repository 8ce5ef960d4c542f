from __future__ import annotations

import datetime as dt

import duckdb
import pytest
import sqlglot

from obt.warehouse import transpile
from obt.warehouse.base import MergeScope, sql_text
from obt.warehouse.transpile import to_duckdb

OWN_SQL = (
    "obt",
    "obt_add_columns",
    "staging",
    "load_ledger",
    "load_ledger_add_columns",
    "dq_counts",
    "merge",
    "load_state",
    "insert_ledger",
    "insert_dq_counts",
    "recent_loads",
    "recent_dq_counts",
)
SCOPE = MergeScope((dt.date(2021, 1, 2), dt.date(2021, 1, 1)), base_build_id="obt-" + "0" * 20)
TABLES = {
    "obt": "`proj.movie_analytics.obt`",
    "staging": "`proj.obt_staging.obt_b`",
    "ledger": "`proj.obt_ops.load_ledger`",
    "dq_counts": "`proj.obt_ops.dq_counts`",
    "target_partitions": SCOPE.predicate("t.log_date"),
    "source_partitions": SCOPE.predicate("log_date"),
}


def test_numeric_becomes_bigquery_precision():
    assert "DECIMAL(38, 9)" in to_duckdb("CREATE TABLE d.t (a NUMERIC)")
    assert "DECIMAL(38, 9)" in to_duckdb("SELECT CAST(x AS NUMERIC) FROM d.t")
    assert "DECIMAL(10, 2)" in to_duckdb("CREATE TABLE d.t (a NUMERIC(10, 2))")


def test_numeric_keeps_nine_decimals_in_duckdb():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA d")
    con.execute(to_duckdb("CREATE TABLE d.t (a NUMERIC)"))
    con.execute("INSERT INTO d.t VALUES (12345678901234567890.123456789)")
    assert str(con.execute("SELECT a FROM d.t").fetchone()[0]) == "12345678901234567890.123456789"


def test_timestamp_is_an_instant():
    assert "TIMESTAMPTZ" in to_duckdb("CREATE TABLE d.t (a TIMESTAMP)")


def test_project_is_dropped_from_table_names():
    sql = to_duckdb("SELECT * FROM `my-proj.movie_analytics.obt` AS o JOIN proj.ds.t USING (k)")
    assert "my-proj" not in sql and "proj." not in sql
    assert '"movie_analytics"."obt"' in sql or "movie_analytics.obt" in sql


def test_date_trunc_on_date_stays_a_date():
    con = duckdb.connect()
    sql = to_duckdb("SELECT DATE_TRUNC(DATE '2021-05-17', MONTH) AS m")
    assert str(con.execute(sql).description[0][1]) == "DATE"
    assert str(con.execute(sql).fetchone()[0]) == "2021-05-01"


def test_parameters_become_duckdb_named_parameters():
    sql = to_duckdb("SELECT @a + 1 AS x")
    assert "$a" in sql
    assert duckdb.connect().execute(sql, {"a": 41}).fetchone()[0] == 42


def test_script_splits_into_statements():
    assert len(transpile.statements("SELECT 1; SELECT 2;")) == 2


@pytest.mark.parametrize("name", OWN_SQL)
def test_every_sql_file_is_valid_bigquery_and_transpiles(name):
    sql = sql_text(name).format(**TABLES)
    trees = sqlglot.parse(sql, read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    assert trees and all(t is not None for t in trees)
    assert to_duckdb(sql)
