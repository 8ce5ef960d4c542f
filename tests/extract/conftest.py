"""Fixtures for the extract tests: settings pointing at the session's PostgreSQL and storage emulator,
tables that exist only for these tests (unique names: the services are shared by the session)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from obt.config import Settings
from obt_tools.seed import seed

DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL_PURCHASES = DATA_DIR / "user_purchase.csv.gz"
REAL_ROWS = 541_908


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pg_conn(postgres) -> Iterator:
    conn = postgres.connect()
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def make_table(postgres, name: str, select_sql: str) -> str:
    conn = postgres.connect()
    conn.autocommit = True
    try:
        conn.cursor().execute(f"CREATE TABLE {name} AS {select_sql}")
    finally:
        conn.close()
    return name


@pytest.fixture(scope="session")
def tricky_table(postgres) -> str:
    """Quotes, commas, newlines (LF and CRLF), NULLs, empty strings, non-ASCII and rows far above 64 KiB."""
    return make_table(
        postgres,
        unique("tricky"),
        """SELECT i AS id,
                  CASE i % 7 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'say "hi", then' || E'\\n' || 'leave'
                       WHEN 3 THEN 'crlf' || E'\\r\\n' || 'line' WHEN 4 THEN 'ünïcødé €' ELSE 'plain ' || i END AS txt,
                  CASE WHEN i % 997 = 0 THEN repeat(md5(i::text), 5000) ELSE md5(i::text) END AS big,
                  (i * 1.125)::numeric(12,3) AS amount,
                  timestamp '2010-12-01 08:26' + i * interval '1 minute' AS at
           FROM generate_series(1, 20000) AS i""",
    )


@pytest.fixture(scope="session")
def bulk_table(postgres) -> str:
    """~300k rows (~50 MB of CSV) that compress poorly: exports long enough to interrupt."""
    return make_table(
        postgres,
        unique("bulk"),
        "SELECT i AS id, md5(i::text) AS a, md5((i * 7)::text) || md5((i * 13)::text) AS b "
        "FROM generate_series(1, 300000) AS i",
    )


@pytest.fixture(scope="session")
def real_purchases(postgres) -> str:
    if not REAL_PURCHASES.is_file():
        pytest.skip(f"{REAL_PURCHASES} is absent")
    table = unique("user_purchase")
    conn = postgres.connect()
    conn.autocommit = True
    try:
        assert seed(conn, REAL_PURCHASES, table).rows == REAL_ROWS
    finally:
        conn.close()
    return table


@pytest.fixture
def extract_env(postgres, gcs_emulator, monkeypatch, tricky_table, bulk_table) -> dict[str, str]:
    """Environment for the extract (function, CLI or service) against the session's services."""
    env = {
        **postgres.env(),
        **gcs_emulator.env(),
        "OBT_EXTRACT_TABLES": f"user_purchase,{tricky_table},{bulk_table}",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def settings_with(extra_tables: tuple[str, ...] = (), **changes) -> Settings:
    from dataclasses import replace

    settings = Settings.from_env()
    return replace(settings, extract_tables=settings.extract_tables + extra_tables, **changes)
