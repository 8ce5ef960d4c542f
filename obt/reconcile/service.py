"""``obt reconcile``: close every gap between a finished build and the load ledger (docs/contracts.md
"Publication marker").

The Spark job publishes its completion message, then writes ``obt/build_id=B/_PUBLISHED.json``. Dataproc has no
completion notification and a dead-lettered message waits for a person, so two gaps stay open unless reconcile
closes them. It lists the recent OBT batches that ended (ListBatches) and, for each:

1. **No marker**: the driver ended without announcing the build (OOM, preemption, cancellation, a crash before
   the publish or between the publish and the marker). Reconcile publishes the message on its behalf (the
   manifest's status when the manifest exists, otherwise ``failed`` with the batch's state message), then writes
   the marker: ``published``.
2. **Marker, but no outcome in the load ledger** once ``OBT_RECONCILE_GRACE_MINUTES`` have passed since the
   marker's ``published_at`` (the loader's own retries come first): ``load_obt`` was down past the retry budget
   and the message dead-lettered, or it was lost. Reconcile publishes the same message again:
   ``republished``. That holds for a succeeded build not older (``input_watermark``) than the last loaded one,
   and for a failed build, so that the ledger records why it failed. An older succeeded build would only be
   skipped by the loader: it is left alone (``superseded``).

An outcome is any ledger row but ``failed``: a ``failed`` row is an attempt that raised and went back to Pub/Sub
for redelivery, which may since have dead-lettered it. The ledger is read through the warehouse port, once per
run and only when some build has a marker.

Reconcile keeps no state of its own. A build stays due, and is republished on every run past its grace period,
until the ledger records it; and running reconcile again, at any time, finds the marker and the ledger row and
does nothing. Both are safe because every publication is: the loader skips a build it has loaded, and says so
in the ledger. Production calls the ``reconcile`` HTTP function every 15 minutes from Cloud Scheduler.

Each ended batch gets one ``Action`` saying what was done and why: ``published`` / ``republished``
(``would_publish`` / ``would_republish`` in a dry run), ``recorded`` (the ledger has the build's outcome),
``superseded``, ``waiting`` (within the grace period) or ``error`` (one build's error does not stop the others).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from obt.config import Settings
from obt.errors import TransientError
from obt.log import get_logger
from obt.objects import NotJsonObject, Objects
from obt.services import Services
from obt.trigger.batches import EndedBatch
from obt.warehouse.base import NO_LEDGER, LedgerSummary
from obt_contract.layout import MANIFEST_NAME, MARKER_NAME, build_manifest_name, build_marker_name, gs_uri
from obt_contract.message import STATUSES, CompletionMessage, completion_message

log = get_logger(__name__)

ORIGIN = "reconcile"
# The ledger outcome of a load attempt that raised and was handed back for redelivery: not an outcome of the build.
ATTEMPT_FAILED = "failed"
# The largest lookback and grace period a request may ask for (60 days; one day).
MAX_LOOKBACK_HOURS = 24 * 60
MAX_GRACE_MINUTES = 24 * 60


@dataclass(frozen=True)
class Action:
    build_id: str
    batch_state: str
    # published | republished | would_publish | would_republish | recorded | superseded | waiting | error
    action: str
    status: str = ""  # the status of the message published (or that would be)
    reason: str = ""  # why reconcile did what it did
    message_id: str = ""


def message_for(batch: EndedBatch, manifest: Mapping[str, Any] | None, curated_bucket: str) -> CompletionMessage:
    """The message a finished build should have published (pure); ``manifest`` is ``None`` when absent."""
    manifest_uri = gs_uri(curated_bucket, build_manifest_name(batch.build_id))
    if manifest is not None and manifest.get("status") in STATUSES:
        reason = manifest.get("reason")
        if not reason and batch.state != "SUCCEEDED":
            reason = f"manifest written, then batch {batch.state}: {batch.state_message or 'no state message'}"
        return completion_message(batch.build_id, manifest_uri, manifest["status"], str(reason) if reason else None)
    if manifest is not None:
        reason = f"batch {batch.state}; its {MANIFEST_NAME} is unreadable"
    elif batch.state == "SUCCEEDED":
        reason = f"batch SUCCEEDED but wrote no {MANIFEST_NAME}"
    else:
        reason = f"batch {batch.state}: {batch.state_message or 'no state message'}"
    return completion_message(batch.build_id, manifest_uri, "failed", reason)


def _read(objects: Objects, uri: str) -> Mapping[str, Any] | None:
    """The JSON object at ``uri``; ``{}`` when it is there but unreadable, ``None`` when absent."""
    try:
        return objects.read_json(uri)
    except NotJsonObject:
        return {}


def published_at(marker: Mapping[str, Any]) -> datetime | None:
    """When the marker says the message went out; ``None`` when it does not say (then the grace is over)."""
    try:
        moment = datetime.fromisoformat(str(marker.get("published_at")))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def follow_up(
    batch: EndedBatch,
    marker: Mapping[str, Any],
    manifest: Mapping[str, Any] | None,
    ledger: LedgerSummary,
    curated_bucket: str,
    grace: timedelta,
    now: datetime,
) -> tuple[str, CompletionMessage | None, str]:
    """What an announced build (marker present) needs (pure): ``(action, message to publish again or None,
    reason)``, the action one of ``republished``, ``recorded``, ``superseded`` and ``waiting``."""
    rows = ledger.outcomes.get(batch.build_id, frozenset())
    if rows - {ATTEMPT_FAILED}:
        return "recorded", None, f"the load ledger records it: {', '.join(sorted(rows - {ATTEMPT_FAILED}))}"
    message = message_for(batch, manifest, curated_bucket)
    watermark = (manifest or {}).get("input_watermark")
    last = ledger.last_watermark
    # The loader's rule: only an older build is skipped (equal watermarks load).
    if message.status == "succeeded" and isinstance(watermark, int) and last is not None and watermark < last:
        return "superseded", None, f"input_watermark {watermark} is older than the last loaded build's {last}"
    sent = published_at(marker)
    if sent is not None and now - sent < grace:
        return "waiting", None, f"published {_minutes(now - sent)} ago, within the {_minutes(grace)} grace period"
    since = f"published {_minutes(now - sent)} ago" if sent is not None else f"{MARKER_NAME} says not when"
    attempts = " (only failed load attempts)" if rows else ""
    return "republished", message, f"{since}, and no outcome in the load ledger{attempts}"


def _manifest(settings: Settings, services: Services, build_id: str) -> Mapping[str, Any] | None:
    return _read(services.objects, gs_uri(settings.curated_bucket, build_manifest_name(build_id)))


def announce(batch: EndedBatch, settings: Settings, services: Services, *, dry_run: bool, now: datetime) -> Action:
    """Publish for a build that ended without a marker, then write the marker."""
    message = message_for(batch, _manifest(settings, services, batch.build_id), settings.curated_bucket)
    reason = f"no {MARKER_NAME}: the driver ended without announcing the build"
    reason += f"; {message.reason}" if message.reason else ""
    if dry_run:
        return Action(batch.build_id, batch.state, "would_publish", message.status, reason)
    message_id = services.publisher.publish(message, ORIGIN)
    # The marker follows the message: a crash in between republishes next run (at-least-once, as load_obt expects).
    services.objects.create_json(
        gs_uri(settings.curated_bucket, build_marker_name(batch.build_id)),
        {"message_id": message_id, "published_at": now.isoformat(), "status": message.status, "published_by": ORIGIN},
    )
    return Action(batch.build_id, batch.state, "published", message.status, reason, message_id)


def reconcile_announced(
    batch: EndedBatch,
    marker: Mapping[str, Any],
    ledger: LedgerSummary,
    settings: Settings,
    services: Services,
    *,
    grace: timedelta,
    dry_run: bool,
    now: datetime,
) -> Action:
    """Publish again for an announced build whose outcome the ledger still lacks after the grace period."""
    manifest = _manifest(settings, services, batch.build_id)
    action, message, reason = follow_up(batch, marker, manifest, ledger, settings.curated_bucket, grace, now)
    if message is None:
        return Action(batch.build_id, batch.state, action, reason=reason)
    if dry_run:
        return Action(batch.build_id, batch.state, "would_republish", message.status, reason)
    # The marker stays the job's (or the first publisher's): it says the build was announced, which is still true.
    message_id = services.publisher.publish(message, ORIGIN)
    return Action(batch.build_id, batch.state, "republished", message.status, reason, message_id)


def reconcile(
    settings: Settings,
    services: Services,
    *,
    lookback: timedelta | None = None,
    grace: timedelta | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Action]:
    """One ``Action`` per ended batch; one failing build does not stop the others."""
    lookback = lookback if lookback is not None else timedelta(hours=settings.reconcile_lookback_hours)
    grace = grace if grace is not None else timedelta(minutes=settings.reconcile_grace_minutes)
    moment = now()
    since = moment - lookback
    batches = services.batches.ended_since(since)
    markers: dict[str, Mapping[str, Any] | None] = {}
    unknown: dict[str, str] = {}  # build -> why its state could not be read
    for batch in batches:
        try:
            markers[batch.build_id] = _read(
                services.objects, gs_uri(settings.curated_bucket, build_marker_name(batch.build_id))
            )
        except Exception as exc:
            unknown[batch.build_id] = str(exc)
    announced = sorted(build for build, marker in markers.items() if marker is not None)
    ledger = NO_LEDGER  # read only when some build is announced
    if announced:
        try:
            ledger = services.warehouse().ledger_summary(announced)
        except Exception as exc:
            # Without the ledger an announced build's state is unknown; the builds without a marker go on.
            unknown.update({build: f"reading the load ledger failed: {exc}" for build in announced})

    def act(batch: EndedBatch) -> Action:
        if batch.build_id in unknown:
            return Action(batch.build_id, batch.state, "error", reason=unknown[batch.build_id])
        marker = markers[batch.build_id]
        if marker is None:
            return announce(batch, settings, services, dry_run=dry_run, now=moment)
        return reconcile_announced(batch, marker, ledger, settings, services, grace=grace, dry_run=dry_run, now=moment)

    actions = []
    for batch in batches:
        try:
            action = act(batch)
        except Exception as exc:
            action = Action(batch.build_id, batch.state, "error", reason=str(exc))
        if action.action == "error":
            log.error("reconcile failed for build", **asdict(action))
        elif action.action != "recorded":
            log.info(f"build {action.action}", **asdict(action))
        actions.append(action)
    log.info(
        "reconcile finished",
        since=since.isoformat(),
        batches=len(actions),
        **{name: sum(a.action == name for a in actions) for name in ("published", "republished", "waiting", "error")},
        dry_run=dry_run,
    )
    return actions


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def handle_request(payload: Any, settings: Settings, services: Services) -> tuple[dict[str, Any], int]:
    """The HTTP function's body: ``payload`` is the parsed JSON body (or ``None``); returns (JSON, status).

    Accepts ``{"lookback_hours": N, "grace_minutes": N, "dry_run": bool}``. A failed build or an unreachable
    dependency answers 500, so Cloud Scheduler records the failure and its retry policy applies.
    """
    payload = {} if payload is None else payload
    if not isinstance(payload, Mapping):
        return {"error": "body must be a JSON object"}, 400
    unknown = sorted(set(payload) - {"lookback_hours", "grace_minutes", "dry_run"})
    if unknown:
        return {"error": f"unknown fields: {', '.join(unknown)}"}, 400
    hours = payload.get("lookback_hours", settings.reconcile_lookback_hours)
    if not _is_number(hours) or not 0 < hours <= MAX_LOOKBACK_HOURS:
        return {"error": f"lookback_hours must be a number within (0, {MAX_LOOKBACK_HOURS}], got {hours!r}"}, 400
    minutes = payload.get("grace_minutes", settings.reconcile_grace_minutes)
    if not _is_number(minutes) or not 0 <= minutes <= MAX_GRACE_MINUTES:
        return {"error": f"grace_minutes must be a number within [0, {MAX_GRACE_MINUTES}], got {minutes!r}"}, 400
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        return {"error": f"dry_run must be a boolean, got {dry_run!r}"}, 400
    try:
        actions = reconcile(
            settings,
            services,
            lookback=timedelta(hours=hours),
            grace=timedelta(minutes=minutes),
            dry_run=dry_run,
        )
    except TransientError as exc:
        log.error("reconcile could not list batches", error=str(exc))
        return {"error": str(exc)}, 500
    body = {"actions": [asdict(a) for a in actions]}
    return body, 500 if any(a.action == "error" for a in actions) else 200
