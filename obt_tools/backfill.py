"""Backfills: publish a build's completion message again, or rebuild the OBT from the raw bucket.

Publishing again is exactly what a person would do with

    gcloud pubsub topics publish obt-build-complete --project P --message \
      '{"build_id":"obt-B","manifest_uri":"gs://CURATED/obt/build_id=obt-B/_MANIFEST.json","status":"succeeded"}'

The loader then treats it like any other delivery: a build already loaded, or older than the last
loaded one, is skipped with a ledger row saying so. The status is taken from the build's manifest. The
message goes out through ``Services.publisher`` with the attribute ``origin=backfill``.

A rebuild (``rebuild``) submits the build the raw bucket's inputs make now (``obt.trigger.service.current_plan``,
what the next object event would submit), with every vendor date, or the dates named, classified again instead of
read from the classified layer, under an id of its own (``BuildPlan.rebuilt``). It is the check of the incremental
path (the load's MERGE of a rebuild changes nothing unless a date's layer was wrong) and the way past a damaged
layer; a re-uploaded vendor date needs none, its new generation is classified again by the event it raises.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from obt.config import Settings
from obt.errors import PermanentError, UserError
from obt.log import get_logger
from obt.services import Services
from obt.trigger.batches import Submission
from obt.trigger.planner import BuildPlan
from obt.trigger.service import current_plan
from obt_contract.layout import build_manifest_name, gs_uri
from obt_contract.message import (
    STATUSES,
    CompletionMessage,
    MessageError,
    check_build_id,
    check_manifest_uri,
    completion_message,
    encode,
)

log = get_logger(__name__)

ORIGIN = "backfill"
# What a local dry run prints where the deployed project and curated bucket go.
PLACEHOLDER_PROJECT, PLACEHOLDER_BUCKET = "PROJECT", "CURATED"


@dataclass(frozen=True)
class Announcement:
    build_id: str
    manifest_uri: str
    status: str
    reason: str | None
    input_watermark: int | None
    created_at: str | None

    @property
    def message(self) -> CompletionMessage:
        return completion_message(self.build_id, self.manifest_uri, self.status, self.reason)

    @property
    def data(self) -> bytes:
        return encode(self.message)


def _announcement(doc: dict[str, Any], uri: str) -> Announcement:
    status = doc.get("status")
    if status not in STATUSES:
        raise UserError(f"{uri}: manifest status must be succeeded or failed, got {status!r}")
    watermark = doc.get("input_watermark")
    return Announcement(
        build_id=doc["build_id"],
        manifest_uri=uri,
        status=status,
        reason=doc.get("reason") if status == "failed" else None,
        input_watermark=watermark if isinstance(watermark, int) else None,
        created_at=doc.get("created_at") if isinstance(doc.get("created_at"), str) else None,
    )


def _read(services: Services, uri: str) -> dict[str, Any]:
    try:
        doc = services.objects.read_json(uri)
    except PermanentError as exc:
        raise UserError(str(exc)) from exc
    if doc is None:
        raise UserError(f"object not found: {uri}")
    return doc


def for_build(settings: Settings, services: Services, build_id: str) -> Announcement:
    try:
        check_build_id(build_id)
    except MessageError as exc:
        raise UserError(str(exc)) from exc
    uri = gs_uri(settings.curated_bucket, build_manifest_name(build_id))
    doc = _read(services, uri)
    if doc.get("build_id") != build_id:
        raise UserError(f"{uri} names build {doc.get('build_id')!r}, not {build_id}")
    return _announcement(doc, uri)


def for_manifest(settings: Settings, services: Services, uri: str) -> Announcement:
    doc = _read(services, uri)
    try:
        build_id = check_build_id(doc.get("build_id"))
        check_manifest_uri(uri, build_id, settings.curated_bucket)
    except MessageError as exc:
        raise UserError(str(exc)) from exc
    return _announcement(doc, uri)


def _created_on_or_after(created_at: str | None, since: date) -> bool:
    if not created_at:
        return False
    try:
        return datetime.fromisoformat(created_at.replace("Z", "+00:00")).date() >= since
    except ValueError:
        return False


def since(settings: Settings, services: Services, day: date) -> list[Announcement]:
    """Every build created on or after ``day``, oldest input first (the order the loader expects)."""
    found = []
    for uri in services.objects.manifest_uris(settings.curated_bucket):
        doc = services.objects.read_json(uri)
        if doc is None:  # deleted since the listing
            continue
        if isinstance(doc.get("build_id"), str) and _created_on_or_after(doc.get("created_at"), day):
            found.append(_announcement(doc, uri))
    return sorted(found, key=lambda a: (a.input_watermark is None, a.input_watermark or 0, a.build_id))


def gcloud_command(project: str, topic: str, message: CompletionMessage) -> str:
    return f"gcloud pubsub topics publish {topic} --project {project} --message {shlex.quote(encode(message).decode())}"


def equivalent_commands(settings: Settings, announcement: Announcement, state_dir: Path) -> list[tuple[str, str]]:
    """``(label, command)`` pairs that publish ``announcement`` by hand, for ``--dry-run``.

    Locally: the ``obt backfill`` of this build against the same state folder, and the production ``gcloud`` command
    with placeholders (``PROJECT``, ``CURATED``) for the deployed project and bucket. A local run never prints a
    command that would reach Google Cloud as it stands: ``gcloud`` ignores ``PUBSUB_EMULATOR_HOST`` and would publish
    to a real project. With ``OBT_ENV=gcp`` the one command is the real one.
    """
    if not settings.is_local:
        return [("production", gcloud_command(settings.project, settings.build_topic, announcement.message))]
    local = f"obt backfill --state-dir {shlex.quote(str(state_dir))} --build-id {announcement.build_id}"
    deployed = completion_message(
        announcement.build_id,
        gs_uri(PLACEHOLDER_BUCKET, build_manifest_name(announcement.build_id)),
        announcement.status,
        announcement.reason,
    )
    return [("local", local), ("production", gcloud_command(PLACEHOLDER_PROJECT, settings.build_topic, deployed))]


def publish(settings: Settings, services: Services, announcement: Announcement) -> str:
    """Publish the completion message; returns the Pub/Sub message id."""
    message_id = services.publisher.publish(announcement.message, ORIGIN)
    log.info(
        "backfill published",
        build_id=announcement.build_id,
        status=announcement.status,
        topic=settings.topic_path,
        message_id=message_id,
        emulator=os.environ.get("PUBSUB_EMULATOR_HOST", ""),
    )
    return message_id


def rebuild_plan(settings: Settings, services: Services, dates: list[date] | None) -> BuildPlan:
    """The current build with ``dates`` (``None``: every vendor date) classified again; ``UserError`` if none."""
    plan = current_plan(settings, services)
    if plan.build is None:
        raise UserError(f"nothing to rebuild in gs://{settings.raw_bucket}: missing " + "; ".join(plan.missing))
    try:
        return plan.build.rebuilt(dates, datetime.now(UTC).isoformat())
    except ValueError as exc:
        raise UserError(str(exc)) from exc


def submit_rebuild(services: Services, plan: BuildPlan) -> Submission:
    submission = services.batches.submit(plan)
    log.info(
        "rebuild submitted",
        outcome=submission.outcome,
        full_rebuild=plan.full_rebuild,
        reclassify=[d.isoformat() for d in plan.reclassify],
        **plan.summary(),
    )
    return submission
