"""The load use case: one completion message -> at most one MERGE of the build into the OBT, and a ledger row.

Pure orchestration over two of the ``Services`` (the warehouse, and the objects that hold the manifest), so
the same code runs in the Cloud Function, the local stack and the tests. Decisions, in order:

1. status ``failed`` in the message -> skipped (its manifest's data-quality counts are kept when it exists);
2. manifest missing, unreadable or inconsistent -> rejected (permanent: logged, acknowledged);
3. data-quality counts of the manifest -> ``obt_ops.dq_counts`` (once per build);
4. manifest status not ``succeeded`` -> skipped;
5. build already loaded -> skipped; older (``input_watermark``) than the last loaded build -> skipped
   (``LoadState.refusal``; a staging table an earlier, crashed delivery left is dropped);
6. otherwise stage (staged rows must equal the manifest's ``obt.rows``, else rejected), then plan the MERGE's
   scope (``plan_scope``: the ``log_date`` partitions that differ from the last loaded build, which the OBT
   equals; or all of them, with the reason, when that cannot be shown: ``obt.load.partitions``), then
   ``warehouse.merge``: the MERGE within that scope and its ledger row ``loaded`` (rows inserted/updated/deleted,
   the partitions MERGEd, bytes, timings) in ONE transaction that checks step 5 again on the ledger it reads, so
   the ledger cannot disagree with the table, and that the last loaded build is still the one the scope was
   planned against. When another load got in between (BigQuery: no lock spans the plan and the transaction), the
   transaction changes nothing and the scope is planned again, at most ``MAX_PLANS`` times, then the delivery
   fails as transient and is redelivered.

An exception on the way leaves a ledger row ``failed`` (when the warehouse can still take it) and propagates.
Every reason stored or logged is cut to a fixed length (``obt_contract.message.truncate``); a malformed or
oversized message is logged in one bounded line, never with its text beyond a short prefix.

All of it runs under ``warehouse.serialized()``: two deliveries of one message, or two builds, never
interleave. Transient errors propagate (the platform redelivers); every step is idempotent, so a
redelivery after a crash anywhere converges on the same table.

Test-only fault injection, read here and nowhere else: ``OBT_FAULT=POINT`` raises ``InjectedFault`` at one of
``FAULT_POINTS`` (a crash at the worst moments): ``after_staging`` (before the MERGE), ``after_merge`` (inside
the transaction, between the MERGE and its ledger row: it rolls back) and ``after_ledger`` (committed, staging
table not dropped yet). With ``OBT_FAULT_TOKEN=PATH`` it fires only while PATH exists and removes it, so
exactly one delivery fails and the redelivery recovers.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.load.messages import CompletionMessage, MessageError, decode_pubsub_event, parse_message
from obt.load.partitions import MergePlan, full_merge, plan_merge
from obt.log import get_logger
from obt.objects import Objects
from obt.services import Services
from obt.warehouse.base import LoadState, MergeResult, Warehouse, ledger_row
from obt_contract import ContractError
from obt_contract.layout import build_prefix
from obt_contract.message import (
    MAX_REASON_CHARS,
    STATUSES,
    check_build_id,
    check_manifest_uri,
    completion_message,
    truncate,
)
from obt_contract.sources import LOG_REVIEWS

log = get_logger(__name__)

FAULT_POINTS = ("after_staging", "after_merge", "after_ledger")
# Room for a short prefix ("build failed: ") before a reason the contract has already cut, so its marker stays.
REASON_CHARS = MAX_REASON_CHARS + 100
# A rejected message's log line: the reason may quote message text (a bad build id, say); keep a glimpse only.
REJECTED_REASON_CHARS = 300
# Plans of one delivery's MERGE scope; each one after the first follows another load that moved the last loaded
# build in between, which the deployment (one instance, one request at a time) makes rare. Then: redelivery.
MAX_PLANS = 3


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
    obt: dict[str, Any] = field(default_factory=dict)  # the manifest's obt section as written (its partitions)


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
        obt=obt if isinstance(obt, dict) else {},
    )


def read_manifest(objects: Objects, message: CompletionMessage, curated_bucket: str) -> BuildManifest:
    """The message's manifest, parsed; ``PermanentError`` when it is missing, not JSON or inconsistent."""
    doc = objects.read_json(message.manifest_uri)
    if doc is None:
        raise ManifestError(f"object not found: {message.manifest_uri}")
    return parse_manifest(doc, message, curated_bucket)


def plan_scope(manifest: BuildManifest, state: LoadState, objects: Objects, settings: Settings) -> MergePlan:
    """The partitions the build's MERGE must cover, against the last loaded build of ``state`` (the OBT equals it):
    its manifest is read here, and one that cannot be (gone, not JSON, not that build's) makes a full MERGE.

    A transient storage error propagates instead: the delivery is retried, since falling back would bill the whole
    table for a blip (the build's own manifest was read a moment ago)."""
    base = state.last_build_id
    if base is None:
        return plan_merge(manifest.obt, None, None)
    try:
        # The ledger's text is checked as a message's would be before it names an object to read.
        uri = check_manifest_uri(state.last_manifest_uri, check_build_id(base), settings.curated_bucket)
        base_manifest = read_manifest(objects, completion_message(base, uri, "succeeded"), settings.curated_bucket)
    except (PermanentError, ContractError) as exc:
        return full_merge(f"the manifest of the last loaded build {base} cannot be read: {truncate(str(exc), 300)}")
    return plan_merge(manifest.obt, base, base_manifest.obt)


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


def fault_point(name: str) -> None:
    """The test-only crash hook (module docstring): raise ``InjectedFault`` when ``OBT_FAULT`` names this point."""
    if name not in FAULT_POINTS:
        raise ValueError(f"unknown fault point {name!r}")
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


@dataclass
class _Ledger:
    """The ledger rows and log lines of one delivery: every reason cut to ``REASON_CHARS``."""

    message: CompletionMessage
    message_id: str
    warehouse: Warehouse
    started_at: datetime = field(default_factory=_now)

    @property
    def fields(self) -> dict[str, Any]:
        """What every log line of this delivery carries."""
        return {"build_id": self.message.build_id, "message_id": self.message_id}

    def row(self, outcome: str, reason: str, **values: Any) -> dict[str, Any]:
        message_fields = {
            "build_id": self.message.build_id,
            "message_id": self.message_id,
            "manifest_uri": self.message.manifest_uri,
            "build_status": self.message.status,  # the manifest's status, in ``values``, wins
            "started_at": self.started_at,
        }
        return ledger_row(**{**message_fields, **values}, outcome=outcome, reason=truncate(reason, REASON_CHARS))

    def report(self, entry: dict[str, Any]) -> LoadOutcome:
        """Log a row already in the ledger, as the delivery's outcome."""
        counts = ("rows_inserted", "rows_updated", "rows_deleted", "rows_staged")
        log.info(
            f"build {entry['outcome']}",
            outcome=entry["outcome"],
            reason=entry["reason"],
            **self.fields,
            **{k: entry[k] for k in counts if entry[k] is not None},
        )
        return LoadOutcome(entry["outcome"], entry["reason"], build_id=self.message.build_id, ledger=entry)

    def finish(self, outcome: str, reason: str, **values: Any) -> LoadOutcome:
        """Append a row (any outcome but ``loaded``, which ``Warehouse.merge`` writes) and report it."""
        entry = self.row(outcome, reason, **values, finished_at=_now())
        self.warehouse.record_load(entry)
        return self.report(entry)


def load_build(message: CompletionMessage, settings: Settings, services: Services, message_id: str = "") -> LoadOutcome:
    """Handle one validated completion message; see the module docstring for the decisions."""
    warehouse = services.warehouse()
    ledger = _Ledger(message, message_id, warehouse)
    with warehouse.serialized():
        warehouse.ensure_schema()
        try:
            return _decide_and_load(message, settings, warehouse, services.objects, ledger)
        except Exception as exc:
            # Visible in the ledger, then re-raised so the platform redelivers; a ledger write failing
            # here (warehouse down) must not hide the original error.
            try:
                ledger.finish("failed", f"{type(exc).__name__}: {exc}")
            except Exception:
                log.error("could not record the failed load", **ledger.fields)
            raise


def _decide_and_load(
    message: CompletionMessage, settings: Settings, warehouse: Warehouse, objects: Objects, ledger: _Ledger
) -> LoadOutcome:
    fields = ledger.fields
    if message.status != "succeeded":
        # Nothing to load, but a failed build's manifest (when it got that far) says why in its counts.
        try:
            failed = read_manifest(objects, message, settings.curated_bucket)
            warehouse.record_dq_counts(message.build_id, dq_rows(failed.sources, failed.metrics))
        except PermanentError as exc:
            log.info("no data-quality counts for the failed build", reason=truncate(str(exc)), **fields)
        return ledger.finish("skipped", f"build failed: {message.reason or 'no reason given'}")
    try:
        manifest = read_manifest(objects, message, settings.curated_bucket)
    except PermanentError as exc:
        return ledger.finish("rejected", f"manifest unusable: {exc}")
    context = {
        "build_status": manifest.status,
        "input_watermark": manifest.input_watermark,
        "inputs": json.dumps(manifest.inputs, sort_keys=True),
    }
    warehouse.record_dq_counts(message.build_id, dq_rows(manifest.sources, manifest.metrics))
    if manifest.status != "succeeded":
        reason = f"manifest status is {manifest.status}: {manifest.reason or ''}".strip()
        return ledger.finish("skipped", reason, **context)
    refusal = warehouse.load_state(message.build_id).refusal(manifest.input_watermark)
    if refusal is not None:
        _drop_staging(warehouse, message.build_id, fields)
        return ledger.finish("skipped", refusal, **context)

    log.info("staging build", files=len(manifest.files), **fields)
    t0 = time.perf_counter()
    staged = warehouse.stage(message.build_id, manifest.files)
    t1 = time.perf_counter()
    if manifest.rows is not None and staged.rows != manifest.rows:
        _drop_staging(warehouse, message.build_id, fields)
        return ledger.finish(
            "rejected",
            f"staged {staged.rows} rows but the manifest lists {manifest.rows}",
            rows_staged=staged.rows,
            bytes_staged=staged.bytes,
            **context,
        )
    fault_point("after_staging")
    loaded = ledger.row(
        "loaded",
        "newest build",
        rows_staged=staged.rows,
        bytes_staged=staged.bytes,
        stage_seconds=round(t1 - t0, 3),
        **context,
    )
    merged = _merge(manifest, settings, warehouse, objects, loaded, fields)
    if merged.ledger is None:
        # Refused by the ledger its transaction read: another load got there first (BigQuery, two instances).
        _drop_staging(warehouse, message.build_id, fields)
        refusal = merged.state.refusal(manifest.input_watermark) or "refused by the ledger"
        return ledger.finish("skipped", refusal, **context)
    fault_point("after_ledger")
    _drop_staging(warehouse, message.build_id, fields)
    return ledger.report(merged.ledger)


def _merge(
    manifest: BuildManifest,
    settings: Settings,
    warehouse: Warehouse,
    objects: Objects,
    loaded: dict[str, Any],
    fields: dict[str, Any],
) -> MergeResult:
    """Plan the MERGE's scope and run it; plan again when the transaction found the last loaded build moved."""
    for attempt in range(1, MAX_PLANS + 1):
        # Read afresh: staging took a while, and a retry follows another load.
        plan = plan_scope(manifest, warehouse.load_state(manifest.build_id), objects, settings)
        log.info("merge planned", attempt=attempt, **plan.log_fields(), **fields)
        merged = warehouse.merge(
            manifest.build_id, loaded, before_ledger=lambda: fault_point("after_merge"), scope=plan.scope
        )
        if (
            merged.ledger is not None
            or merged.state.refusal(manifest.input_watermark) is not None
            or not plan.scope.stale(merged.state)
        ):
            return merged
        log.warning(
            "the last loaded build moved while the merge was planned; planning again",
            attempt=attempt,
            planned_against=plan.scope.base_build_id,
            last_loaded=merged.state.last_build_id,
            **fields,
        )
    raise TransientError(
        f"the last loaded build moved during each of {MAX_PLANS} merge plans (other loads kept committing)"
    )


def _drop_staging(warehouse: Warehouse, build_id: str, fields: dict[str, Any]) -> None:
    try:
        warehouse.drop_staging(build_id)
    except Exception as exc:
        # The outcome is decided and recorded; a leftover staging table is replaced on reuse (and expires on
        # BigQuery).
        log.warning("could not drop the staging table", error=truncate(str(exc)), **fields)


def handle_event(event_data: object, settings: Settings, services: Services, event_id: str = "") -> LoadOutcome:
    """A messagePublished CloudEvent's data -> ``load_build``; ``rejected`` (no build id, no ledger row) when the
    message is malformed or over the size limit (acknowledged: redelivering the same bytes cannot help), after ONE
    bounded log line; the function answers with that reason."""
    try:
        delivery = decode_pubsub_event(event_data)
        message = parse_message(delivery.data, settings.curated_bucket)
    except MessageError as exc:
        reason = truncate(str(exc), REJECTED_REASON_CHARS)
        log.error("malformed completion message acknowledged without loading", reason=reason, event_id=event_id)
        return LoadOutcome("rejected", f"malformed completion message: {reason}", build_id="")
    return load_build(message, settings, services, message_id=delivery.message_id or event_id)
