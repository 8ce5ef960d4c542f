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

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc

from obt import clients
from obt.config import Settings
from obt.errors import TransientError
from obt.log import get_logger
from obt.retryable import is_transient
from obt.trigger.batches import batch_parent
from obt_contract.layout import MANIFEST_NAME, build_manifest_name, build_prefix, gs_uri
from obt_contract.message import BUILD_ID_PREFIX

log = get_logger(__name__)

MARKER_NAME = "_PUBLISHED.json"
ENDED = ("SUCCEEDED", "FAILED", "CANCELLED")
PUBLISH_TIMEOUT_S = 60.0


def marker_name(build_id: str) -> str:
    return build_prefix(build_id) + MARKER_NAME


@dataclass(frozen=True)
class EndedBatch:
    build_id: str
    state: str
    state_message: str
    create_time: datetime | None


@dataclass(frozen=True)
class Action:
    build_id: str
    batch_state: str
    action: str  # "published" | "already_published" | "would_publish" | "error"
    status: str = ""
    reason: str = ""
    message_id: str = ""


def completion_message(build_id: str, batch: EndedBatch, manifest: Any, curated_bucket: str) -> dict[str, Any]:
    """The message a finished build should have published (pure)."""
    message: dict[str, Any] = {
        "build_id": build_id,
        "manifest_uri": gs_uri(curated_bucket, build_manifest_name(build_id)),
    }
    if isinstance(manifest, Mapping) and manifest.get("status") in ("succeeded", "failed"):
        message["status"] = manifest["status"]
        if manifest.get("reason"):
            message["reason"] = str(manifest["reason"])
        elif batch.state != "SUCCEEDED":
            detail = batch.state_message or "no state message"
            message["reason"] = f"manifest written, then batch {batch.state}: {detail}"
        return message
    message["status"] = "failed"
    if manifest is not None:
        message["reason"] = f"batch {batch.state}; its {MANIFEST_NAME} is unreadable"
    elif batch.state == "SUCCEEDED":
        message["reason"] = f"batch SUCCEEDED but wrote no {MANIFEST_NAME}"
    else:
        message["reason"] = f"batch {batch.state}: {batch.state_message or 'no state message'}"
    return message


def _state_name(state: Any) -> str:
    return getattr(state, "name", str(state))


def list_ended_batches(settings: Settings, since: datetime) -> Iterable[EndedBatch]:
    """OBT batches created since ``since`` that reached a terminal state."""
    # Both GCP and the local endpoint accept a create_time clause; state and id prefix are checked here.
    request = {
        "parent": batch_parent(settings),
        "filter": f'create_time >= "{since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"',
    }
    try:
        batches = list(clients.batches(settings).list_batches(request=request))
    except Exception as exc:
        if is_transient(exc) or isinstance(exc, gexc.GoogleAPICallError):
            raise TransientError(f"ListBatches in {request['parent']} failed: {exc}") from exc
        raise
    for batch in batches:
        build_id = batch.name.rsplit("/", 1)[-1]
        state = _state_name(batch.state)
        if not build_id.startswith(BUILD_ID_PREFIX) or state not in ENDED:
            continue
        created = batch.create_time if isinstance(batch.create_time, datetime) else None
        if created is not None and created < since:
            continue
        yield EndedBatch(build_id, state, batch.state_message or "", created)


class _Curated:
    def __init__(self, settings: Settings) -> None:
        self.bucket = clients.storage(settings).bucket(settings.curated_bucket)

    def exists(self, name: str) -> bool:
        return self.bucket.blob(name).exists()

    def read_json(self, name: str) -> Any:
        """Parsed JSON; ``None`` if absent; the raw text if it does not parse (callers treat it as unreadable)."""
        try:
            payload = self.bucket.blob(name).download_as_bytes()
        except gexc.NotFound:
            return None
        try:
            return json.loads(payload)
        except ValueError:
            return payload.decode("utf-8", "replace")

    def create_json(self, name: str, body: Mapping[str, Any]) -> bool:
        """Write once; ``False`` if another writer got there first."""
        try:
            self.bucket.blob(name).upload_from_string(
                json.dumps(body, indent=2), content_type="application/json", if_generation_match=0
            )
        except gexc.PreconditionFailed:
            return False
        return True


def _publish(settings: Settings, message: Mapping[str, Any]) -> str:
    future = clients.publisher_client().publish(
        settings.topic_path,
        json.dumps(message, sort_keys=True).encode("utf-8"),
        build_id=message["build_id"],
        status=message["status"],
        origin="reconcile",
    )
    return future.result(timeout=PUBLISH_TIMEOUT_S)


def reconcile_batch(
    batch: EndedBatch,
    settings: Settings,
    curated: _Curated,
    *,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Action:
    marker = marker_name(batch.build_id)
    if curated.exists(marker):
        return Action(batch.build_id, batch.state, "already_published")
    manifest = curated.read_json(build_manifest_name(batch.build_id))
    message = completion_message(batch.build_id, batch, manifest, settings.curated_bucket)
    reason = message.get("reason", "")
    if dry_run:
        return Action(batch.build_id, batch.state, "would_publish", message["status"], reason)
    message_id = _publish(settings, message)
    # The marker follows the message: a crash in between republishes next run (at-least-once, as load_obt expects).
    curated.create_json(
        marker,
        {
            "message_id": message_id,
            "published_at": now().isoformat(),
            "status": message["status"],
            "published_by": "reconcile",
        },
    )
    return Action(batch.build_id, batch.state, "published", message["status"], reason, message_id)


def reconcile(
    settings: Settings,
    *,
    lookback: timedelta | None = None,
    dry_run: bool = False,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[Action]:
    """Publish for every ended batch lacking a marker; one failing build does not stop the others."""
    lookback = lookback if lookback is not None else timedelta(hours=settings.reconcile_lookback_hours)
    since = now() - lookback
    curated = _Curated(settings)
    actions = []
    for batch in list_ended_batches(settings, since):
        try:
            action = reconcile_batch(batch, settings, curated, dry_run=dry_run, now=now)
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


def handle_request(payload: Any, settings: Settings) -> tuple[dict[str, Any], int]:
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
        actions = reconcile(settings, lookback=timedelta(hours=hours), dry_run=dry_run)
    except TransientError as exc:
        log.error("reconcile could not list batches", error=str(exc))
        return {"error": str(exc)}, 500
    body = {"actions": [asdict(a) for a in actions]}
    return body, 500 if any(a.action == "error" for a in actions) else 200
