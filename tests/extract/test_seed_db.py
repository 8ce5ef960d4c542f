"""Seeding the real PostgreSQL: conversion lands as typed rows; a malformed file changes nothing."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from obt_tools.cli import main
from obt_tools.seed import HEADER, MalformedLine, seed
from tests.extract.conftest import REAL_ROWS, unique

ROWS = [
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom",
    'C536379,D,"Discount, ""special""",-1,12/1/2010 9:41,27.5,,United Kingdom',
    "536414,22139,,56,12/1/2010 11:52,0,,United Kingdom",
]


def _write(tmp_path, name: str, lines: list[str]) -> object:
    path = tmp_path / name
    path.write_text("\n".join([",".join(HEADER), *lines]) + "\n", encoding="utf-8")
    return path


def _table_state(conn, table: str):
    cursor = conn.cursor()
    cursor.execute(f"SELECT count(*), md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM {table} t")
    return tuple(cursor.fetchone())


def test_seed_loads_typed_rows(pg_conn, tmp_path):
    table = unique("seed")
    result = seed(pg_conn, _write(tmp_path, "p.csv", ROWS), table)
    assert result.rows == 3
    cursor = pg_conn.cursor()
    cursor.execute(f"SELECT * FROM {table} ORDER BY invoice_number")
    assert [tuple(r) for r in cursor.fetchall()] == [
        (
            "536365",
            "85123A",
            "WHITE HANGING HEART T-LIGHT HOLDER",
            6,
            datetime(2010, 12, 1, 8, 26),
            Decimal("2.550"),
            17850,
            "United Kingdom",
        ),
        ("536414", "22139", None, 56, datetime(2010, 12, 1, 11, 52), Decimal("0.000"), None, "United Kingdom"),
        (
            "C536379",
            "D",
            'Discount, "special"',
            -1,
            datetime(2010, 12, 1, 9, 41),
            Decimal("27.500"),
            None,
            "United Kingdom",
        ),
    ]
    cursor.execute(
        "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns "
        "WHERE table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    assert [tuple(r) for r in cursor.fetchall()] == [
        ("invoice_number", "character varying", 10),
        ("stock_code", "character varying", 20),
        ("detail", "character varying", 1000),
        ("quantity", "integer", None),
        ("invoice_date", "timestamp without time zone", None),
        ("unit_price", "numeric", None),
        ("customer_id", "integer", None),
        ("country", "character varying", 40),
    ]
    # Seeding again replaces the rows: no duplicates.
    assert seed(pg_conn, _write(tmp_path, "p.csv", ROWS), table).rows == 3
    assert _table_state(pg_conn, table)[0] == 3


def test_malformed_line_is_rejected_and_the_table_is_unchanged(pg_conn, tmp_path):
    table = unique("seed")
    seed(pg_conn, _write(tmp_path, "good.csv", ROWS), table)
    before = _table_state(pg_conn, table)
    bad = _write(tmp_path, "bad.csv", [*ROWS, ROWS[0], "536999,X,broken,6,31/12/2010 8:26,1,1,UK", ROWS[1]])
    with pytest.raises(MalformedLine, match=r"^line 6: InvoiceDate '31/12/2010 8:26'"):
        seed(pg_conn, bad, table)
    assert _table_state(pg_conn, table) == before


def test_database_side_failure_rolls_back(pg_conn, tmp_path):
    # A table name PostgreSQL refuses only at CREATE time: the DROP before it must be rolled back too.
    table = unique("seed")
    seed(pg_conn, _write(tmp_path, "good.csv", ROWS), table)
    before = _table_state(pg_conn, table)
    cursor = pg_conn.cursor()
    cursor.execute(f"CREATE VIEW {table}_v AS SELECT * FROM {table}")  # DROP TABLE now fails (dependent view)
    with pytest.raises(Exception, match="depend"):
        seed(pg_conn, _write(tmp_path, "p.csv", ROWS[:1]), table)
    assert _table_state(pg_conn, table) == before


def test_cli_reports_the_line(postgres, monkeypatch, tmp_path, capsys):
    for name, value in postgres.env().items():
        monkeypatch.setenv(name, value)
    bad = _write(tmp_path, "bad.csv", [ROWS[0], "1,2,3"])
    assert main(["seed-postgres", "--csv", str(bad), "--table", unique("seed")]) == 2
    assert "line 3: expected 8 fields, found 3" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.realdata
def test_real_file_loads_completely(pg_conn, real_purchases):
    # 135,080 rows without a customer: the "missing_customer" count of docs/contracts.md.
    cursor = pg_conn.cursor()
    cursor.execute(f"SELECT count(*), count(customer_id), min(invoice_date), max(invoice_date) FROM {real_purchases}")
    assert tuple(cursor.fetchone()) == (
        REAL_ROWS,
        REAL_ROWS - 135_080,
        datetime(2010, 12, 1, 8, 26),
        datetime(2011, 12, 9, 12, 50),
    )
