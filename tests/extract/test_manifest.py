"""Manifest building and checking (docs/contracts.md shape)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from obt.extract.manifest import build_manifest, check_manifest
from obt.extract.parts import Part
from obt_contract.layout import part_name

D = date(2026, 11, 23)
ATTEMPT = "0123456789abcdef"
FOLDER = "user_purchase/ingest_date=2026-11-23/run_id=scheduled"


def _parts() -> list[Part]:
    return [
        Part(i, part_name("user_purchase", D, "scheduled", ATTEMPT, i), 10 + i, 100 + i, "AAAAAA==", 7 + i)
        for i in range(2)
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
                "name": f"{FOLDER}/part-{ATTEMPT}-00000.csv.gz",
                "uri": f"gs://obt-raw/{FOLDER}/part-{ATTEMPT}-00000.csv.gz",
                "generation": 7,
                "rows": 10,
                "bytes": 100,
                "crc32c": "AAAAAA==",
            },
            {
                "name": f"{FOLDER}/part-{ATTEMPT}-00001.csv.gz",
                "uri": f"gs://obt-raw/{FOLDER}/part-{ATTEMPT}-00001.csv.gz",
                "generation": 8,
                "rows": 11,
                "bytes": 101,
                "crc32c": "AAAAAA==",
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
    assert check_manifest(manifest, table="user_purchase", run_id="scheduled", ingest_date=D) == [
        "total_rows is not the sum of the parts' rows"
    ]
    problems = check_manifest(manifest, table="user_purchase", run_id="other", ingest_date=D)
    assert problems[0] == "run_id is 'scheduled', expected 'other'"
    assert "is not an object of user_purchase/ingest_date=2026-11-23/run_id=other/" in problems[1]
    assert check_manifest([], table="t", run_id="r", ingest_date=D) == ["manifest is not a JSON object"]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: m["parts"][0].pop("generation"), "part-0123456789abcdef-00000.csv.gz records no generation"),
        (lambda m: m["parts"][1].pop("crc32c"), "records no crc32c"),
        (lambda m: m["parts"][1].update(generation="8"), "non-integer 'generation'"),
        (lambda m: m["parts"][0].update(name="elsewhere/part-00000.csv.gz"), "is not an object of"),
        (lambda m: m["parts"][0].update(rows=True), "a part has no integer row count"),
    ],
)
def test_reuse_needs_every_part_pinned_by_generation_size_and_crc32c(change, problem):
    """The extract reuses only a manifest it could check against the bucket: an unpinned part is a problem."""
    manifest = _manifest()
    change(manifest)
    problems = check_manifest(manifest, table="user_purchase", run_id="scheduled", ingest_date=D)
    assert any(problem in p for p in problems), problems
