"""``obt reconcile``: announce builds whose driver could not (docs/contracts.md "Publication marker").

The Spark job publishes its completion message and then writes ``obt/build_id=B/_PUBLISHED.json``. A
driver that dies (OOM, preemption, cancellation, a crash before publishing) leaves no marker, and
nothing else tells ``load_obt``: Dataproc has no completion notification. Reconcile lists the recent
OBT batches (ListBatches), and for each one that ended FAILED, CANCELLED or SUCCEEDED without a marker
publishes the completion message on its behalf (the manifest's status when the manifest exists,
otherwise ``failed`` with the batch's state message), then writes the marker. Running it again finds
the marker and does nothing, so it is safe to schedule: in production Cloud Scheduler calls the
``reconcile`` HTTP function every 15 minutes.
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
from obt_contract.layout import MANIFEST_NAME, build_manifest_name, build_marker_name, gs_uri
from obt_contract.message import STATUSES, CompletionMessage, completion_message

log = get_logger(__name__)

ORIGIN = "reconcile"


@dataclass(frozen=True)
class Action:
    build_id: str
    batch_state: str
    action: str  # "published" | "already_published" | "would_publish" | "error"
    status: str = ""
    reason: str = ""
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


def _manifest(objects: Objects, uri: str) -> Mapping[str, Any] | None:
    try:
        return objects.read_json(uri)
    except NotJsonObject:
        return {}  # there, but without a status to announce: the build is announced as failed, unreadable


def reconcile_batch(
    batch: EndedBatch,
    settings: Settings,
    services: Services,
    *,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Action:
    objects = services.objects
    marker = gs_uri(settings.curated_bucket, build_marker_name(batch.build_id))
    if objects.exists(marker):
        return Action(batch.build_id, batch.state, "already_published")
    manifest = _manifest(objects, gs_uri(settings.curated_bucket, build_manifest_name(batch.build_id)))
    message = message_for(batch, manifest, settings.curated_bucket)
    reason = message.reason or ""
    if dry_run:
        return Action(batch.build_id, batch.state, "would_publish", message.status, reason)
    message_id = services.publisher.publish(message, ORIGIN)
    # The marker follows the message: a crash in between republishes next run (at-least-once, as load_obt expects).
    objects.create_json(
        marker,
        {"message_id": message_id, "published_at": now().isoformat(), "status": message.status, "published_by": ORIGIN},
    )
    return Action(batch.build_id, batch.state, "published", message.status, reason, message_id)


def reconcile(
    settings: Settings,
    services: Services,
    *,
    lookback: timedelta | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Action]:
    """Publish for every ended batch lacking a marker; one failing build does not stop the others."""
    lookback = lookback if lookback is not None else timedelta(hours=settings.reconcile_lookback_hours)
    since = now() - lookback
    actions = []
    for batch in services.batches.ended_since(since):
        try:
            action = reconcile_batch(batch, settings, services, dry_run=dry_run, now=now)
        except Exception as exc:
            log.error("reconcile failed for build", build_id=batch.build_id, batch_state=batch.state, error=str(exc))
            action = Action(batch.build_id, batch.state, "error", reason=str(exc))
        else:
            if action.action != "already_published":
                log.info(
                    "completion message published on the build's behalf"
                    if action.action == "published"
                    else "completion message would be published (dry run)",
                    **asdict(action),
                )
        actions.append(action)
    log.info(
        "reconcile finished",
        since=since.isoformat(),
        batches=len(actions),
        published=sum(a.action == "published" for a in actions),
        errors=sum(a.action == "error" for a in actions),
        dry_run=dry_run,
    )
    return actions


def handle_request(payload: Any, settings: Settings, services: Services) -> tuple[dict[str, Any], int]:
    """The HTTP function's body: ``payload`` is the parsed JSON body (or ``None``); returns (JSON, status).

    Accepts ``{"lookback_hours": N, "dry_run": bool}``. A failed build or an unreachable dependency
    answers 500, so Cloud Scheduler records the failure and its retry policy applies.
    """
    payload = {} if payload is None else payload
    if not isinstance(payload, Mapping):
        return {"error": "body must be a JSON object"}, 400
    unknown = sorted(set(payload) - {"lookback_hours", "dry_run"})
    if unknown:
        return {"error": f"unknown fields: {', '.join(unknown)}"}, 400
    hours = payload.get("lookback_hours", settings.reconcile_lookback_hours)
    if isinstance(hours, bool) or not isinstance(hours, int | float) or not 0 < hours <= 24 * 60:
        return {"error": f"lookback_hours must be a number within (0, 1440], got {hours!r}"}, 400
    dry_run = payload.get("dry_run", False)
    if not isinstance(dry_run, bool):
        return {"error": f"dry_run must be a boolean, got {dry_run!r}"}, 400
    try:
        actions = reconcile(settings, services, lookback=timedelta(hours=hours), dry_run=dry_run)
    except TransientError as exc:
        log.error("reconcile could not list batches", error=str(exc))
        return {"error": str(exc)}, 500
    body = {"actions": [asdict(a) for a in actions]}
    return body, 500 if any(a.action == "error" for a in actions) else 200
