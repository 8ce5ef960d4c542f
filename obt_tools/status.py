"""``obt status``: running batches, the latest builds (curated bucket), loads (ledger) and data-quality counts.

Decisions:

- Each part is read from where it is reachable, and one that is not becomes a note instead of an error: the
  command is for finding out what is wrong.
- Running batches come from ListBatches (the ``Batches`` port), so a build under way is visible before its
  manifest exists: while one runs, an empty curated bucket reads "no finished build yet", not "no builds".
- With the local cloud down, the builds are read from the storage emulator's files in the state folder
  (``STATE/gcs/BUCKET/NAME``: fake-gcs-server's filesystem backend), newest first by file time; running batches
  are then unknown, and a note says so.
- A build whose batch ended FAILED (or CANCELLED) after writing a succeeded manifest (its driver died between the
  manifest and the publish, or the publish timed out) was recovered by ``obt reconcile``'s republication: its row says
  ``succeeded (recovered)`` and why, and whether the load ledger shows it loaded yet, so the FAILED batch an operator
  sees in Dataproc is explained here (``recovery``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table

from obt.config import Settings
from obt.errors import TransientError
from obt.trigger.batches import Batches, EndedBatch
from obt.warehouse.base import Warehouse
from obt_contract.layout import BUILDS_PREFIX, MANIFEST_NAME, gs_uri, split_gs_uri


class Manifests(Protocol):
    """The two ``Objects`` calls status needs; ``GcsObjects`` and :class:`StoredManifests` both answer them."""

    def manifest_uris(self, bucket: str) -> list[str]: ...

    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class StoredManifests:
    """Build manifests read straight from the storage emulator's files (the local cloud is down)."""

    root: Path

    def _path(self, uri: str) -> Path:
        bucket, name = split_gs_uri(uri)
        return self.root / bucket / name

    def manifest_uris(self, bucket: str) -> list[str]:
        folder = self.root / bucket
        found = sorted(folder.glob(f"{BUILDS_PREFIX}*/{MANIFEST_NAME}"), key=lambda p: (p.stat().st_mtime, p.name))
        return [gs_uri(bucket, path.relative_to(folder).as_posix()) for path in found]

    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None:
        try:
            doc = json.loads(self._path(uri).read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            return {}  # not JSON: shown as a build without fields rather than hiding the others
        return doc if isinstance(doc, dict) else {}


@dataclass
class Status:
    # None: that part could not be read (see notes), as opposed to read and empty.
    running: list[dict[str, Any]] | None = None
    ended: dict[str, EndedBatch] = field(default_factory=dict)  # build id -> its batch's terminal state
    builds: list[dict[str, Any]] | None = None
    loads: list[dict[str, Any]] | None = None
    dq_counts: list[dict[str, Any]] | None = None
    notes: list[str] = field(default_factory=list)


def recent_builds(objects: Manifests, settings: Settings, limit: int) -> list[dict[str, Any]]:
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


def recovery(build: dict[str, Any], batch: EndedBatch | None, loaded: bool) -> str | None:
    """Why a succeeded build's batch failed, and that the build was recovered; ``None`` for any other build."""
    if batch is None or build.get("status") != "succeeded" or batch.state not in ("FAILED", "CANCELLED"):
        return None
    why = f"batch {batch.state}" + (f" ({batch.state_message})" if batch.state_message else "")
    then = (
        "loaded from the message obt reconcile republished"
        if loaded
        else "not loaded yet: obt reconcile republishes its message"
    )
    return f"recovered: {why} after its manifest was written; {then}"


def _annotate_recoveries(status: Status) -> None:
    loaded = {r["build_id"] for r in status.loads or [] if r["outcome"] == "loaded"}
    for build in status.builds or []:
        note = recovery(build, status.ended.get(build["build_id"]), build["build_id"] in loaded)
        if note is not None:
            build["status"] = "succeeded (recovered)"
            build["reason"] = note


def running_batches(batches: Batches, settings: Settings, now: datetime | None = None) -> list[dict[str, Any]]:
    """OBT batches pending or running, created within the reconcile lookback (a batch never runs longer)."""
    since = (now or datetime.now(UTC)) - timedelta(hours=settings.reconcile_lookback_hours)
    return [
        {"build_id": b.build_id, "state": b.state, "created_at": b.create_time, "detail": b.state_message}
        for b in batches.active_since(since)
    ]


def collect(
    settings: Settings,
    warehouse: Warehouse | None,
    objects: Manifests | None,
    limit: int = 10,
    batches: Batches | None = None,
) -> Status:
    """Gather what is reachable; ``None`` for a source that is not (the local cloud is down)."""
    status = Status()
    here = settings.state_dir
    if batches is not None:
        try:
            status.running = running_batches(batches, settings)
            since = datetime.now(UTC) - timedelta(hours=settings.reconcile_lookback_hours)
            status.ended = {b.build_id: b for b in batches.ended_since(since)}
        except TransientError as exc:
            status.notes.append(f"running batches unavailable: {exc}")
    if objects is None:
        status.notes.append(
            f"the local cloud is not running under {here} (`obt local up`): no builds or running batches to show"
        )
    else:
        if isinstance(objects, StoredManifests):
            status.notes.append(
                f"the local cloud is not running under {here}: builds read from {objects.root}, running batches unknown"
            )
        elif batches is None and settings.is_local:
            status.notes.append("running batches unknown: no local Dataproc endpoint (OBT_DATAPROC_ENDPOINT)")
        try:
            status.builds = recent_builds(objects, settings, limit)
        except TransientError as exc:
            status.notes.append(f"builds unavailable (gs://{settings.curated_bucket}): {exc}")
    if warehouse is None:
        status.notes.append(f"no warehouse yet ({settings.warehouse_path}): nothing loaded")
        _annotate_recoveries(status)
        return status
    warehouse.ensure_schema()
    status.loads = warehouse.query(warehouse.sql("recent_loads"), {"limit": limit})
    status.dq_counts = warehouse.query(warehouse.sql("recent_dq_counts"), {"builds": 3})
    _annotate_recoveries(status)
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


def _partitions(r: dict[str, Any]) -> str:
    """How much of the OBT a load's MERGE covered: ``all`` (a full MERGE, as every load before the ledger recorded
    it) or how many ``log_date`` partitions (``0``: nothing changed, no MERGE)."""
    if r["outcome"] != "loaded":
        return ""
    if r.get("partitions") is None:
        return "all"
    try:
        return f"{len(json.loads(r['partitions'])):,}"
    except (TypeError, ValueError):
        return "?"


def _seconds(r: dict[str, Any]) -> str:
    if r["stage_seconds"] is None:
        return ""
    return f"{r['stage_seconds']:.2f} / {r['merge_seconds'] or 0:.2f}"


def render_status(status: Status, console: Console) -> None:
    if status.running:
        running = Table(title="Running batches (Dataproc)", title_justify="left")
        for column in ("build", "state", "created"):
            running.add_column(column, no_wrap=True)
        running.add_column("detail", overflow="fold")
        for b in status.running:
            running.add_row(*(_cell(b[k]) for k in ("build_id", "state", "created_at", "detail")))
        console.print(running)

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
    if status.builds:
        console.print(builds)
    elif status.builds is not None and status.running:
        console.print(f"No finished build in the curated bucket yet: {len(status.running)} batch(es) running.")
    elif status.builds is not None:
        console.print("No builds in the curated bucket.")

    loads = Table(title="Latest loads (obt_ops.load_ledger)", title_justify="left")
    loads.add_column("finished (UTC)", no_wrap=True)
    loads.add_column("build", no_wrap=True)
    loads.add_column("outcome", no_wrap=True)
    loads.add_column("staged", justify="right", no_wrap=True)
    loads.add_column("+ins ~upd -del", justify="right", no_wrap=True)
    loads.add_column("partitions", justify="right", no_wrap=True)
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
            _partitions(r),
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
