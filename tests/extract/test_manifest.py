"""Manifest building and checking (docs/contracts.md shape)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from obt.extract.manifest import build_manifest, check_manifest
from obt.extract.parts import Part
from obt_contract.layout import part_name

D = date(2026, 11, 23)


def _parts() -> list[Part]:
    return [
        Part(i, part_name("user_purchase", D, "scheduled", i), 10 + i, 100 + i, "AAAAAA==", 7 + i) for i in range(2)
    ]


def _manifest() -> dict:
    return build_manifest(
        bucket="obt-raw",
        table="user_purchase",
        run_id="scheduled",
        ingest_date=D,
        snapshot_time=datetime(2026, 11, 23, 11, 0, tzinfo=timezone(timedelta(hours=1))),
        columns=[("invoice_number", "character varying(10)"), ("quantity", "integer")],
        parts=_parts(),
        completed_at=datetime(2026, 11, 23, 10, 5, tzinfo=UTC),
    )


def test_manifest_shape():
    manifest = _manifest()
    assert manifest == {
        "kind": "snapshot",
        "table": "user_purchase",
        "run_id": "scheduled",
        "ingest_date": "2026-11-23",
        "snapshot_time": "2026-11-23T10:00:00+00:00",
        "completed_at": "2026-11-23T10:05:00+00:00",
        "format": "csv.gz",
        "header": True,
        "columns": [
            {"name": "invoice_number", "type": "character varying(10)"},
            {"name": "quantity", "type": "integer"},
        ],
        "parts": [
            {
                "name": "user_purchase/ingest_date=2026-11-23/run_id=scheduled/part-00000.csv.gz",
                "uri": "gs://obt-raw/user_purchase/ingest_date=2026-11-23/run_id=scheduled/part-00000.csv.gz",
                "rows": 10,
                "bytes": 100,
                "crc32c": "AAAAAA==",
                "generation": 7,
            },
            {
                "name": "user_purchase/ingest_date=2026-11-23/run_id=scheduled/part-00001.csv.gz",
                "uri": "gs://obt-raw/user_purchase/ingest_date=2026-11-23/run_id=scheduled/part-00001.csv.gz",
                "rows": 11,
                "bytes": 101,
                "crc32c": "AAAAAA==",
                "generation": 8,
            },
        ],
        "total_rows": 21,
    }
    assert check_manifest(manifest, table="user_purchase", run_id="scheduled", ingest_date=D) == []


def test_parts_must_be_complete_and_ordered():
    with pytest.raises(ValueError, match="numbered"):
        build_manifest(
            bucket="b",
            table="t",
            run_id="r",
            ingest_date=D,
            snapshot_time=datetime.now(UTC),
            columns=[],
            parts=_parts()[1:],
        )


def test_check_finds_mismatches():
    manifest = _manifest()
    manifest["total_rows"] = 5
    problems = check_manifest(manifest, table="user_purchase", run_id="other", ingest_date=D)
    assert problems == ["run_id is 'scheduled', expected 'other'", "total_rows is not the sum of the parts' rows"]
    assert check_manifest([], table="t", run_id="r", ingest_date=D) == ["manifest is not a JSON object"]
