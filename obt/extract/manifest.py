"""The snapshot manifest (docs/contracts.md): what a complete export of one table holds.

Every part records its object ``generation``, size and crc32c: together they pin the exact bytes this export
committed, so any reader can tell whether the bucket still holds them (``obt.extract.integrity``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from obt.extract.integrity import manifest_parts
from obt.extract.parts import Part
from obt_contract.layout import gs_uri, snapshot_prefix

FORMAT = "csv.gz"


def build_manifest(
    *,
    bucket: str,
    table: str,
    run_id: str,
    ingest_date: date,
    snapshot_time: datetime,
    columns: Sequence[tuple[str, str]],
    parts: Sequence[Part],
    completed_at: datetime | None = None,
) -> dict[str, Any]:
    if not parts:
        raise ValueError("a snapshot has at least one part")
    indexes = [part.index for part in parts]
    if indexes != list(range(len(parts))):
        raise ValueError(f"parts must be numbered 0..{len(parts) - 1}, got {indexes}")
    completed = completed_at or datetime.now(UTC)
    part_entries = [
        {
            "name": part.name,
            "uri": gs_uri(bucket, part.name),
            "generation": part.generation,
            "rows": part.rows,
            "bytes": part.bytes,
            "crc32c": part.crc32c,
        }
        for part in parts
    ]
    return {
        "kind": "snapshot",
        "table": table,
        "run_id": run_id,
        "ingest_date": ingest_date.isoformat(),
        "snapshot_time": _utc_iso(snapshot_time),
        "completed_at": _utc_iso(completed),
        "format": FORMAT,
        "header": True,
        "columns": [{"name": name, "type": kind} for name, kind in columns],
        "parts": part_entries,
        "total_rows": sum(part.rows for part in parts),
    }


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("timestamps in a manifest must carry a time zone")
    return moment.astimezone(UTC).isoformat()


def check_manifest(doc: Any, *, table: str, run_id: str, ingest_date: date) -> list[str]:
    """Problems that make ``doc`` unusable as this snapshot's manifest (empty when it is fine).

    Strict: the extract reuses only a manifest in the shape it writes itself, every part pinned by generation,
    size and crc32c, so the bucket can be checked against it (``obt.extract.integrity``)."""
    if not isinstance(doc, dict):
        return ["manifest is not a JSON object"]
    problems = []
    expected = {"kind": "snapshot", "table": table, "run_id": run_id, "ingest_date": ingest_date.isoformat()}
    for key, value in expected.items():
        if doc.get(key) != value:
            problems.append(f"{key} is {doc.get(key)!r}, expected {value!r}")
    try:
        parts = manifest_parts(doc, snapshot_prefix(table, ingest_date, run_id))
    except ValueError as exc:
        return [*problems, str(exc)]
    for part in parts:
        unpinned = [key for key in ("generation", "bytes", "crc32c") if getattr(part, key) is None]
        if unpinned:
            problems.append(f"part {part.name} records no {', '.join(unpinned)}")
    rows = [p.get("rows") for p in doc["parts"]]
    if not all(isinstance(n, int) and not isinstance(n, bool) for n in rows):
        problems.append("a part has no integer row count")
    elif sum(rows) != doc.get("total_rows"):
        problems.append("total_rows is not the sum of the parts' rows")
    return problems
