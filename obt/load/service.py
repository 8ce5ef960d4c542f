"""The load use case: one completion message -> at most one MERGE of the build into the OBT, and a ledger row.

Pure orchestration over two of the ``Services`` (the warehouse, and the objects that hold the manifest), so
the same code runs in the Cloud Function, the local stack and the tests. Decisions, in order:

1. status ``failed`` in the message -> skipped (its manifest's data-quality counts are kept when it exists);
2. manifest missing, unreadable or inconsistent -> rejected (permanent: logged, acknowledged);
3. data-quality counts of the manifest -> ``obt_ops.dq_counts`` (once per build);
4. manifest status not ``succeeded`` -> skipped;
5. build already loaded -> skipped; older (``input_watermark``) than the last loaded build -> skipped;
6. otherwise stage (staged rows must equal the manifest's ``obt.rows``, else rejected), MERGE, and a ledger
   row ``loaded`` with rows inserted/updated/deleted, bytes and timings.

An exception on the way leaves a ledger row ``failed`` (when the warehouse can still take it) and propagates.

All of it runs under ``warehouse.serialized()``: two deliveries of one message, or two builds, never
interleave. Transient errors propagate (the platform redelivers); every step is idempotent, so a
redelivery after a crash anywhere converges on the same table.

Test-only fault injection, read here and nowhere else: ``OBT_FAULT=after_staging`` raises ``InjectedFault``
between staging and the MERGE (a crash at the worst moment). With ``OBT_FAULT_TOKEN=PATH`` it fires only
while PATH exists and removes it, so exactly one delivery fails and the redelivery recovers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obt.config import Settings
from obt.errors import PermanentError
from obt.load.messages import CompletionMessage, MessageError, decode_pubsub_event, parse_message
from obt.log import get_logger
from obt.objects import Objects
from obt.services import Services
from obt.warehouse.base import Warehouse
from obt_contract.layout import build_prefix
from obt_contract.message import STATUSES
from obt_contract.sources import LOG_REVIEWS

log = get_logger(__name__)


class InjectedFault(RuntimeError):
    """Raised only by the test-only ``OBT_FAULT`` hook."""


class ManifestError(PermanentError):
    """A build manifest that contradicts its message or the contract."""


@dataclass(frozen=True)
class BuildManifest:
    build_id: str
    status: str
    reason: str | None
    input_watermark: int
    inputs: dict[str, Any]
    files: list[str]
    rows: int | None
    sources: dict[str, Any]
    metrics: dict[str, Any]


@dataclass
class LoadOutcome:
    outcome: str  # loaded | skipped | rejected
    reason: str
    build_id: str
    ledger: dict[str, Any] = field(default_factory=dict)


def parse_manifest(doc: Mapping[str, Any], message: CompletionMessage, curated_bucket: str) -> BuildManifest:
    """The manifest's fields the loader relies on, checked against the message and the curated layout."""
    if doc.get("build_id") != message.build_id:
        raise ManifestError(f"manifest build_id {doc.get('build_id')!r} differs from the message's {message.build_id}")
    status = doc.get("status")
    if status not in STATUSES:
        raise ManifestError(f"manifest status must be succeeded or failed, got {status!r}")
    watermark = doc.get("input_watermark")
    if not isinstance(watermark, int) or isinstance(watermark, bool):
        raise ManifestError(f"manifest input_watermark must be an integer, got {watermark!r}")
    obt = doc.get("obt") or {}
    files: list[str] = []
    if status == "succeeded":
        prefix = obt.get("uri_prefix")
        expected = f"gs://{curated_bucket}/{build_prefix(message.build_id)}"
        if prefix != expected:
            raise ManifestError(f"manifest obt.uri_prefix {prefix!r} is not the build's folder {expected}")
        names = obt.get("files")
        if not isinstance(names, list) or not all(isinstance(n, str) and n and "/" not in n for n in names):
            raise ManifestError("manifest obt.files must be a list of file names in the build folder")
        files = [prefix + name for name in names]
    inputs = doc.get("inputs")
    sources = doc.get("sources")
    metrics = doc.get("metrics")
    rows = obt.get("rows")
    return BuildManifest(
        build_id=message.build_id,
        status=status,
        reason=doc.get("reason"),
        input_watermark=watermark,
        inputs=inputs if isinstance(inputs, dict) else {},
        files=files,
        rows=rows if isinstance(rows, int) else None,
        sources=sources if isinstance(sources, dict) else {},
        metrics=metrics if isinstance(metrics, dict) else {},
    )


def read_manifest(objects: Objects, message: CompletionMessage, curated_bucket: str) -> BuildManifest:
    """The message's manifest, parsed; ``PermanentError`` when it is missing, not JSON or inconsistent."""
    doc = objects.read_json(message.manifest_uri)
    if doc is None:
        raise ManifestError(f"object not found: {message.manifest_uri}")
    return parse_manifest(doc, message, curated_bucket)


def dq_rows(sources: Mapping[str, Any], metrics: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """Manifest counts -> rows (source, measure, reason, row_count): per source read, kept and quarantined
    by reason; plus log locations kept but not recognised (``metrics.unknown_locations``)."""
    rows: list[dict[str, Any]] = []
    for source in sorted(sources):
        counts = sources[source]
        if not isinstance(counts, dict):
            continue
        for measure in ("read", "kept"):
            if isinstance(counts.get(measure), int):
                rows.append({"source": source, "measure": measure, "reason": None, "row_count": counts[measure]})
        quarantined = counts.get("quarantined")
        if isinstance(quarantined, dict):
            for reason in sorted(quarantined):
                if isinstance(quarantined[reason], int):
                    rows.append(
                        {"source": source, "measure": "quarantined", "reason": reason, "row_count": quarantined[reason]}
                    )
    unknown = (metrics or {}).get("unknown_locations")
    if isinstance(unknown, dict):
        for location in sorted(unknown):
            if isinstance(unknown[location], int):
                rows.append(
                    {
                        "source": LOG_REVIEWS,
                        "measure": "unknown_location",
                        "reason": location,
                        "row_count": unknown[location],
                    }
                )
    return rows


def _fault_point(name: str) -> None:
    if os.environ.get("OBT_FAULT") != name:
        return
    token = os.environ.get("OBT_FAULT_TOKEN")
    if token:
        try:
            Path(token).unlink()
        except FileNotFoundError:
            return
    raise InjectedFault(f"injected fault at {name} (OBT_FAULT)")


def _now() -> datetime:
    return datetime.now(UTC)


def _ledger_row(message: CompletionMessage, message_id: str, started_at: datetime, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "build_id": message.build_id,
        "message_id": message_id,
        "manifest_uri": message.manifest_uri,
        "build_status": message.status,
        "input_watermark": None,
        "inputs": None,
        "outcome": None,
        "reason": None,
        "rows_staged": None,
        "rows_inserted": None,
        "rows_updated": None,
        "rows_deleted": None,
        "bytes_staged": None,
        "stage_seconds": None,
        "merge_seconds": None,
        "started_at": started_at,
        "finished_at": None,
    }
    row.update(values)
    return row


def load_build(message: CompletionMessage, settings: Settings, services: Services, message_id: str = "") -> LoadOutcome:
    """Handle one validated completion message; see the module docstring for the decisions."""
    warehouse = services.warehouse()
    started_at = _now()
    fields = {"build_id": message.build_id, "message_id": message_id}

    def finish(outcome: str, reason: str, **values: Any) -> LoadOutcome:
        row = _ledger_row(message, message_id, started_at, outcome=outcome, reason=reason, **values)
        row["finished_at"] = _now()
        warehouse.record_load(row)
        log.info(
            f"build {outcome}",
            outcome=outcome,
            reason=reason,
            **fields,
            **{
                k: row[k]
                for k in ("rows_inserted", "rows_updated", "rows_deleted", "rows_staged")
                if row[k] is not None
            },
        )
        return LoadOutcome(outcome=outcome, reason=reason, build_id=message.build_id, ledger=row)

    with warehouse.serialized():
        warehouse.ensure_schema()
        try:
            return _decide_and_load(message, settings, warehouse, services.objects, finish, fields)
        except Exception as exc:
            # Visible in the ledger, then re-raised so the platform redelivers; a ledger write failing
            # here (warehouse down) must not hide the original error.
            try:
                finish("failed", f"{type(exc).__name__}: {exc}"[:1000])
            except Exception:
                log.error("could not record the failed load", **fields)
            raise


def _decide_and_load(
    message: CompletionMessage,
    settings: Settings,
    warehouse: Warehouse,
    objects: Objects,
    finish: Callable[..., LoadOutcome],
    fields: dict[str, Any],
) -> LoadOutcome:
    if message.status != "succeeded":
        # Nothing to load, but a failed build's manifest (when it got that far) says why in its counts.
        try:
            failed = read_manifest(objects, message, settings.curated_bucket)
            warehouse.record_dq_counts(message.build_id, dq_rows(failed.sources, failed.metrics))
        except PermanentError as exc:
            log.info("no data-quality counts for the failed build", reason=str(exc), **fields)
        return finish("skipped", f"build failed: {message.reason or 'no reason given'}")
    try:
        manifest = read_manifest(objects, message, settings.curated_bucket)
    except PermanentError as exc:
        return finish("rejected", f"manifest unusable: {exc}")
    context = {
        "build_status": manifest.status,
        "input_watermark": manifest.input_watermark,
        "inputs": json.dumps(manifest.inputs, sort_keys=True),
    }
    warehouse.record_dq_counts(message.build_id, dq_rows(manifest.sources, manifest.metrics))
    if manifest.status != "succeeded":
        return finish("skipped", f"manifest status is {manifest.status}: {manifest.reason or ''}".strip(), **context)
    state = warehouse.load_state(message.build_id)
    if state.times_loaded:
        return finish("skipped", "already loaded", **context)
    if state.last_watermark is not None and manifest.input_watermark < state.last_watermark:
        return finish(
            "skipped",
            f"older than the last loaded build (input_watermark {manifest.input_watermark} < {state.last_watermark})",
            **context,
        )

    log.info("staging build", files=len(manifest.files), **fields)
    t0 = time.perf_counter()
    staged = warehouse.stage(message.build_id, manifest.files)
    t1 = time.perf_counter()
    if manifest.rows is not None and staged.rows != manifest.rows:
        warehouse.drop_staging(message.build_id)
        return finish(
            "rejected",
            f"staged {staged.rows} rows but the manifest lists {manifest.rows}",
            rows_staged=staged.rows,
            bytes_staged=staged.bytes,
            **context,
        )
    _fault_point("after_staging")
    counts = warehouse.merge(message.build_id)
    t2 = time.perf_counter()
    outcome = finish(
        "loaded",
        "newest build",
        rows_staged=staged.rows,
        rows_inserted=counts.inserted,
        rows_updated=counts.updated,
        rows_deleted=counts.deleted,
        bytes_staged=staged.bytes,
        stage_seconds=round(t1 - t0, 3),
        merge_seconds=round(t2 - t1, 3),
        **context,
    )
    try:
        warehouse.drop_staging(message.build_id)
    except Exception as exc:
        # The load is done and recorded; a leftover staging table is replaced on reuse (and expires on BigQuery).
        log.warning("could not drop the staging table", error=str(exc), **fields)
    return outcome


def handle_event(event_data: object, settings: Settings, services: Services, event_id: str = "") -> LoadOutcome | None:
    """A messagePublished CloudEvent's data -> ``load_build``; ``None`` when the message is malformed
    (logged and acknowledged: redelivering the same bytes cannot help)."""
    try:
        delivery = decode_pubsub_event(event_data)
        message = parse_message(delivery.data, settings.curated_bucket)
    except MessageError as exc:
        log.error("malformed completion message acknowledged without loading", reason=str(exc), event_id=event_id)
        return None
    return load_build(message, settings, services, message_id=delivery.message_id or event_id)
