"""Exports against the real PostgreSQL and the storage emulator: content, manifest, ordering, idempotency."""

from __future__ import annotations

from datetime import date

import pytest

from obt import clients
from obt.extract.request import build_request
from obt.extract.service import run_extract
from obt_contract.layout import snapshot_manifest_name, snapshot_prefix
from tests.extract.conftest import REAL_ROWS, settings_with, unique
from tests.extract.helpers import csv_records, digest, download_parts, reference_copy, split_records

D = date(2026, 11, 23)


def _listing(settings, table: str, run_id: str) -> dict[str, int]:
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    blobs = clients.storage(settings).list_blobs(bucket, prefix=snapshot_prefix(table, D, run_id))
    return {blob.name: int(blob.generation) for blob in blobs}


def _export(settings, table: str, run_id: str):
    request = build_request(tables=[table], ingest_date=D.isoformat(), run_id=run_id, allowed=settings.extract_tables)
    (outcome,) = run_extract(settings, request)
    return outcome


def _check_parts_equal_table(settings, pg_conn, table: str, manifest: dict) -> None:
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    header, expected = reference_copy(pg_conn, table)
    texts = download_parts(bucket, manifest)
    got = []
    for part, text in zip(manifest["parts"], texts, strict=True):
        records = split_records(header, text)
        assert len(records) == part["rows"]
        got.extend(records)
    cursor = pg_conn.cursor()
    cursor.execute(f"SELECT count(*) FROM {table}")
    assert len(got) == manifest["total_rows"] == len(expected) == cursor.fetchone()[0]
    assert digest(got) == digest(expected)
    assert header.decode().rstrip("\n").split(",") == [c["name"] for c in manifest["columns"]]


def _check_manifest_is_last(settings, table: str, run_id: str, manifest: dict) -> None:
    bucket = clients.storage(settings).bucket(settings.raw_bucket)
    listing = _listing(settings, table, run_id)
    manifest_name = snapshot_manifest_name(table, D, run_id)
    part_names = [p["name"] for p in manifest["parts"]]
    assert sorted(listing) == sorted([*part_names, manifest_name])  # nothing else under the prefix
    assert all(listing[manifest_name] > listing[name] for name in part_names)  # the manifest came last
    for part in manifest["parts"]:
        blob = bucket.get_blob(part["name"])
        assert part["bytes"] == blob.size
        assert part["generation"] == blob.generation
        assert part["uri"] == f"gs://{settings.raw_bucket}/{part['name']}"
        if blob.crc32c:
            assert part["crc32c"] == blob.crc32c


@pytest.mark.slow
@pytest.mark.realdata
def test_real_purchases_round_trip(extract_env, pg_conn, real_purchases):
    settings = settings_with((real_purchases,), extract_part_bytes=2 * 1024 * 1024)
    run_id = unique("run")
    outcome = _export(settings, real_purchases, run_id)
    manifest = outcome.manifest
    assert not outcome.reused
    assert manifest["total_rows"] == REAL_ROWS
    assert len(manifest["parts"]) >= 4  # ~10 MB compressed, 2 MiB parts
    assert manifest["columns"] == [
        {"name": "invoice_number", "type": "character varying(10)"},
        {"name": "stock_code", "type": "character varying(20)"},
        {"name": "detail", "type": "character varying(1000)"},
        {"name": "quantity", "type": "integer"},
        {"name": "invoice_date", "type": "timestamp without time zone"},
        {"name": "unit_price", "type": "numeric(10,3)"},
        {"name": "customer_id", "type": "integer"},
        {"name": "country", "type": "character varying(40)"},
    ]
    _check_parts_equal_table(settings, pg_conn, real_purchases, manifest)
    _check_manifest_is_last(settings, real_purchases, run_id, manifest)

    first = download_parts(clients.storage(settings).bucket(settings.raw_bucket), {"parts": manifest["parts"][:1]})
    record = csv_records(first[0])[1]
    assert record[4] == "2010-12-01 08:26:00"  # ISO timestamps per the contract


def test_tricky_values_round_trip_and_a_repeat_does_not_duplicate(extract_env, pg_conn, tricky_table):
    settings = settings_with(extract_part_bytes=256 * 1024)
    run_id = unique("run")
    outcome = _export(settings, tricky_table, run_id)
    assert not outcome.reused and outcome.manifest["total_rows"] == 20000
    assert len(outcome.manifest["parts"]) > 1
    _check_parts_equal_table(settings, pg_conn, tricky_table, outcome.manifest)
    _check_manifest_is_last(settings, tricky_table, run_id, outcome.manifest)
    before = _listing(settings, tricky_table, run_id)

    pg_conn.cursor().execute(f"INSERT INTO {tricky_table} (id) VALUES (-1)")  # newer data must not leak in
    try:
        again = _export(settings, tricky_table, run_id)
    finally:
        pg_conn.cursor().execute(f"DELETE FROM {tricky_table} WHERE id = -1")
    assert again.reused
    assert again.manifest == outcome.manifest
    assert _listing(settings, tricky_table, run_id) == before  # same objects, same generations


def test_empty_table_exports_a_header_only_part(extract_env, postgres, pg_conn):
    from tests.extract.conftest import make_table

    table = make_table(postgres, unique("empty"), "SELECT 1 AS id, 'x'::text AS name WHERE false")
    settings = settings_with((table,))
    run_id = unique("run")
    manifest = _export(settings, table, run_id).manifest
    assert manifest["total_rows"] == 0 and len(manifest["parts"]) == 1
    assert download_parts(clients.storage(settings).bucket(settings.raw_bucket), manifest) == [b"id,name\n"]
    _check_manifest_is_last(settings, table, run_id, manifest)
