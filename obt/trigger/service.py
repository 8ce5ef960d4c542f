"""``on_raw_landed``: a raw object was finalized; submit the OBT build it completes, if any.

Outcomes (each logged once, with the reason):
- ``ignored``: not a trigger (other bucket, zero-byte, unknown name, snapshot part, superseded object);
- ``waiting``: a trigger whose build still lacks inputs, naming what is missing;
- ``submitted`` / ``duplicate``: the build was created / already existed (same inputs, same id);
- ``rejected``: malformed event or a request Dataproc refuses; acknowledged, since a retry cannot help.
Transient failures raise ``TransientError`` so that Eventarc redelivers the event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.log import get_logger
from obt.objects import ListedObject, NotJsonObject, Objects
from obt.services import Services
from obt.trigger.events import StorageObjectEvent, parse_storage_event
from obt.trigger.planner import Plan, ReadManifest, decide, plan_build
from obt_contract.layout import LayoutError, classify_raw, gs_uri
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES

log = get_logger(__name__)

# Only these prefixes can hold build inputs; listing them keeps unrelated uploads out of the way.
INPUT_PREFIXES = (f"{PURCHASES}/", f"{MOVIE_REVIEW}/", f"{LOG_REVIEWS}/")


@dataclass(frozen=True)
class Outcome:
    action: str
    reason: str
    build_id: str | None = None
    missing: tuple[str, ...] = ()


def _manifest_reader(objects: Objects, bucket: str) -> ReadManifest:
    """Reads exactly the listed generation (``None`` once it is overwritten); not JSON is the planner's
    ``ValueError`` (an unusable snapshot), not a failure of the event."""

    def read(obj: ListedObject) -> dict[str, Any] | None:
        try:
            return objects.read_json(gs_uri(bucket, obj.name), generation=obj.generation)
        except NotJsonObject as exc:
            raise ValueError(str(exc)) from exc

    return read


def current_plan(settings: Settings, services: Services) -> Plan:
    """The build the raw bucket's inputs make now (also what ``obt demo`` expects the system to submit)."""
    objects, bucket = services.objects, settings.raw_bucket
    listing = [obj for prefix in INPUT_PREFIXES for obj in objects.list_objects(bucket, prefix)]
    return plan_build(listing, _manifest_reader(objects, bucket), settings.tagger_model_uri)


def _trigger_check(event: StorageObjectEvent, settings: Settings) -> str | None:
    """Why this object cannot trigger a build (``None``: it can); ``PermanentError`` for an unparsable name."""
    if event.bucket != settings.raw_bucket:
        return f"bucket {event.bucket} is not the raw bucket {settings.raw_bucket}"
    if event.size == 0:
        return "zero-byte object (GCS may finalize an empty object before the upload)"
    try:
        raw = classify_raw(event.name)
    except LayoutError as exc:
        raise PermanentError(f"unparsable object name {event.name!r}: {exc}") from exc
    if raw is None:
        return "not a purchase snapshot manifest or a vendor file"
    if raw.kind == "snapshot_part":
        return "snapshot parts do not trigger; the snapshot's _MANIFEST.json, written last, does"
    if raw.kind == "snapshot_manifest" and raw.source != PURCHASES:
        return f"snapshot of table {raw.source} does not feed the OBT"
    return None


def handle_object(event: StorageObjectEvent, settings: Settings, services: Services) -> Outcome:
    not_a_trigger = _trigger_check(event, settings)
    if not_a_trigger:
        return Outcome("ignored", not_a_trigger)
    plan = current_plan(settings, services)
    try:
        decision = decide(plan, event.name, event.generation)
    except LookupError as exc:
        raise TransientError(str(exc)) from exc
    if decision.action != "submit" or plan.build is None:
        return Outcome(decision.action, decision.reason, missing=decision.missing)
    log.info("build due", reason=decision.reason, **plan.build.summary())
    submission = services.batches.submit(plan.build)
    return Outcome(submission.outcome, decision.reason, plan.build.build_id, decision.missing)


def on_raw_landed(cloud_event: Any, settings: Settings, services: Services) -> Outcome:
    """The function body: returns to acknowledge, raises ``TransientError`` to have the event redelivered."""
    event_id = _event_id(cloud_event)
    try:
        event = parse_storage_event(cloud_event)
    except PermanentError as exc:
        log.error("malformed event rejected", event_id=event_id, action="rejected", reason=str(exc))
        return Outcome("rejected", str(exc))
    fields = event.log_fields()
    try:
        outcome = handle_object(event, settings, services)
    except PermanentError as exc:
        log.error("event rejected", action="rejected", reason=str(exc), **fields)
        return Outcome("rejected", str(exc))
    except TransientError as exc:
        log.warning("transient failure; the event will be redelivered", action="retry", reason=str(exc), **fields)
        raise
    message = {
        "ignored": "event ignored",
        "waiting": "build waiting for inputs",
        "submitted": "build submitted",
        "duplicate": "build already submitted",
    }[outcome.action]
    log.info(
        message,
        action=outcome.action,
        reason=outcome.reason,
        build_id=outcome.build_id,
        missing=list(outcome.missing),
        **fields,
    )
    return outcome


def _event_id(cloud_event: Any) -> str | None:
    try:
        return str(cloud_event["id"])
    except Exception:
        return None
