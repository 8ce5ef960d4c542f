"""The batched COPY OUT loop against the real PostgreSQL: same bytes as pg8000's own loop, errors intact."""

from __future__ import annotations

import pg8000.dbapi
import pytest

from obt.extract.copyout import fast_copy_out
from obt.extract.export import copy_sql
from tests.extract.helpers import reference_copy


class BatchStream:
    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.batches = 0

    def write(self, data: bytes) -> None:
        raise AssertionError("the batched loop must be used")

    def write_rows(self, rows: list, nbytes: int) -> None:
        assert nbytes == sum(len(r) for r in rows)
        self.records.extend(bytes(r) for r in rows)
        self.batches += 1


def test_batched_loop_yields_exactly_the_ordinary_records(pg_conn, tricky_table):
    header, expected = reference_copy(pg_conn, tricky_table)
    cursor = pg_conn.cursor()
    cursor.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 ORDER BY attnum",
        (tricky_table,),
    )
    columns = cursor.fetchall()
    stream = BatchStream()
    with fast_copy_out(pg_conn) as fast:
        cursor.execute(copy_sql(tricky_table, columns), stream=stream)
    assert fast
    assert cursor.rowcount == 20000
    assert stream.records == [header, *expected]  # same records, same order, big rows included
    assert stream.batches < len(stream.records) / 5  # rows really arrive in batches
    assert any(len(r) > 150_000 for r in stream.records)
    cursor.execute("SELECT 1")  # the connection is left at a clean protocol boundary
    assert cursor.fetchone()[0] == 1


def test_server_error_mid_copy_is_raised_and_the_connection_survives(pg_conn):
    stream = BatchStream()
    cursor = pg_conn.cursor()
    with fast_copy_out(pg_conn), pytest.raises(pg8000.dbapi.DatabaseError, match="division by zero"):
        cursor.execute("COPY (SELECT 1 / (30000 - i) FROM generate_series(1, 40000) AS i) TO STDOUT", stream=stream)
    assert len(stream.records) > 1000  # the error arrived mid-stream, after many rows
    cursor.execute("SELECT 2")
    assert cursor.fetchone()[0] == 2


def test_plain_streams_keep_pg8000s_own_path(pg_conn, tricky_table):
    header, expected = reference_copy(pg_conn, tricky_table)
    with fast_copy_out(pg_conn):
        header2, expected2 = reference_copy(pg_conn, tricky_table)
    assert (header2, expected2) == (header, expected)


def test_handler_is_restored(pg_conn):
    before = pg_conn.message_types[b"H"]
    with fast_copy_out(pg_conn):
        assert pg_conn.message_types[b"H"] is not before
    assert pg_conn.message_types[b"H"] == before
