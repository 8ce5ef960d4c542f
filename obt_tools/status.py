"""``obt status``: the latest builds (curated bucket), loads (ledger) and data-quality counts, as tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table

from obt.config import Settings
from obt.errors import TransientError
from obt.log import get_logger
from obt.objects import Objects
from obt.warehouse.base import Warehouse

log = get_logger(__name__)


@dataclass
class Status:
    # None: that part could not be read (see notes), as opposed to read and empty.
    builds: list[dict[str, Any]] | None = None
    loads: list[dict[str, Any]] | None = None
    dq_counts: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


def recent_builds(objects: Objects, settings: Settings, limit: int) -> list[dict[str, Any]]:
    uris = objects.manifest_uris(settings.curated_bucket)[-limit:]
    builds = []
    for uri in reversed(uris):
        doc = objects.read_json(uri)
        if doc is None:  # deleted since the listing
            continue
        obt = doc.get("obt") or {}
        builds.append(
            {
                "build_id": doc.get("build_id"),
                "status": doc.get("status"),
                "created_at": doc.get("created_at"),
                "input_watermark": doc.get("input_watermark"),
                "rows": obt.get("rows"),
                "reason": doc.get("reason"),
            }
        )
    return builds


def collect(settings: Settings, warehouse: Warehouse | None, objects: Objects | None, limit: int = 10) -> Status:
    """Gather what is reachable; an unreachable part becomes a note instead of an error."""
    status = Status()
    if objects is None:
        status.notes.append("builds unavailable: the local cloud is not running (`obt local up`)")
    else:
        try:
            status.builds = recent_builds(objects, settings, limit)
        except TransientError as exc:
            status.notes.append(f"builds unavailable (gs://{settings.curated_bucket}): {exc}")
    if warehouse is None:
        status.notes.append(f"no warehouse yet ({settings.warehouse_path}): nothing loaded")
        return status
    warehouse.ensure_schema()
    status.loads = warehouse.query(warehouse.sql("recent_loads"), {"limit": limit})
    status.dq_counts = warehouse.query(warehouse.sql("recent_dq_counts"), {"builds": 3})
    return status


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, Decimal):
        return f"{value:f}"
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def _changes(r: dict[str, Any]) -> str:
    if r["rows_inserted"] is None:
        return ""
    return f"+{r['rows_inserted']:,} ~{r['rows_updated']:,} -{r['rows_deleted']:,}"


def _seconds(r: dict[str, Any]) -> str:
    if r["stage_seconds"] is None:
        return ""
    return f"{r['stage_seconds']:.2f} / {r['merge_seconds'] or 0:.2f}"


def render_status(status: Status, console: Console) -> None:
    builds = Table(title="Latest builds (curated bucket)", title_justify="left")
    builds.add_column("build", no_wrap=True)
    builds.add_column("status", no_wrap=True)
    builds.add_column("created", no_wrap=True)
    builds.add_column("input watermark", justify="right", no_wrap=True)
    builds.add_column("rows", justify="right", no_wrap=True)
    builds.add_column("reason", overflow="fold")
    for b in status.builds or []:
        builds.add_row(
            *(_cell(b[k]) for k in ("build_id", "status", "created_at", "input_watermark", "rows", "reason"))
        )
    if status.builds is not None:
        console.print(builds if status.builds else "No builds in the curated bucket.")

    loads = Table(title="Latest loads (obt_ops.load_ledger)", title_justify="left")
    loads.add_column("finished (UTC)", no_wrap=True)
    loads.add_column("build", no_wrap=True)
    loads.add_column("outcome", no_wrap=True)
    loads.add_column("staged", justify="right", no_wrap=True)
    loads.add_column("+ins ~upd -del", justify="right", no_wrap=True)
    loads.add_column("MB", justify="right", no_wrap=True)
    loads.add_column("stage / merge s", justify="right", no_wrap=True)
    loads.add_column("reason", overflow="fold")
    for r in status.loads or []:
        mb = r["bytes_staged"] / 1e6 if r["bytes_staged"] is not None else None
        loads.add_row(
            _cell(r["finished_at"]),
            _cell(r["build_id"]),
            _cell(r["outcome"]),
            _cell(r["rows_staged"]),
            _changes(r),
            _cell(mb),
            _seconds(r),
            _cell(r["reason"]),
        )
    if status.loads is not None:
        console.print(loads if status.loads else "No loads recorded.")

    dq = Table(title="Data quality (obt_ops.dq_counts, latest builds)", title_justify="left")
    dq.add_column("build", no_wrap=True)
    dq.add_column("source", no_wrap=True)
    dq.add_column("read", justify="right", no_wrap=True)
    dq.add_column("kept", justify="right", no_wrap=True)
    dq.add_column("quarantined (and flagged)", overflow="fold")
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for r in status.dq_counts or []:
        entry = grouped.setdefault((r["build_id"], r["source"]), {"read": None, "kept": None, "quarantined": []})
        if r["measure"] in ("read", "kept"):
            entry[r["measure"]] = r["row_count"]
        elif r["measure"] == "quarantined":
            entry["quarantined"].append(f"{r['reason']}={r['row_count']}")
        else:
            entry["quarantined"].append(f"{r['measure']} {r['reason']}={r['row_count']}")
    for (build_id, source), entry in grouped.items():
        dq.add_row(build_id, source, _cell(entry["read"]), _cell(entry["kept"]), ", ".join(entry["quarantined"]))
    if status.dq_counts is not None:
        console.print(dq if grouped else "No data-quality counts recorded.")
    for note in status.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
