"""The snapshot manifest (docs/contracts.md): what a complete export of one table holds.

Beyond the contract's fields each part also records its object ``generation``, so a reader can fetch
exactly the bytes this export wrote even if a concurrent retry later overwrote the name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from obt.extract.parts import Part
from obt_contract.layout import gs_uri

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
    part_entries = []
    for part in parts:
        entry: dict[str, Any] = {
            "name": part.name,
            "uri": gs_uri(bucket, part.name),
            "rows": part.rows,
            "bytes": part.bytes,
            "crc32c": part.crc32c,
        }
        if part.generation is not None:
            entry["generation"] = part.generation
        part_entries.append(entry)
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
    """Problems that make ``doc`` unusable as this snapshot's manifest (empty when it is fine)."""
    if not isinstance(doc, dict):
        return ["manifest is not a JSON object"]
    problems = []
    expected = {"kind": "snapshot", "table": table, "run_id": run_id, "ingest_date": ingest_date.isoformat()}
    for key, value in expected.items():
        if doc.get(key) != value:
            problems.append(f"{key} is {doc.get(key)!r}, expected {value!r}")
    parts = doc.get("parts")
    if not isinstance(parts, list) or not parts:
        problems.append("no parts")
    elif not all(isinstance(p, dict) and isinstance(p.get("rows"), int) for p in parts):
        problems.append("a part has no integer row count")
    elif sum(p["rows"] for p in parts) != doc.get("total_rows"):
        problems.append("total_rows is not the sum of the parts' rows")
    return problems
