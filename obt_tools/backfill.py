"""Backfills: publish a build's completion message again, exactly as a person would with

    gcloud pubsub topics publish obt-build-complete --project P --message \
      '{"build_id":"obt-B","manifest_uri":"gs://CURATED/obt/build_id=obt-B/_MANIFEST.json","status":"succeeded"}'

The loader then treats it like any other delivery: a build already loaded, or older than the last
loaded one, is skipped with a ledger row saying so. The status is taken from the build's manifest. The
message goes out through ``Services.publisher`` with the attribute ``origin=backfill``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import MutableMapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from obt import clients
from obt.config import Settings
from obt.errors import PermanentError, UserError
from obt.log import get_logger
from obt.services import Services
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


def use_local_cloud(environ: MutableMapping[str, str]) -> None:
    """With ``OBT_ENV=local``, talk to the running local cloud (``obt local up``): fill in its variables.

    Variables already set win. Refuses to go on when nothing local is reachable, so that a local
    backfill can never publish to a real project by accident.
    """
    if environ.get("OBT_ENV", "local").strip() != "local":
        return
    try:
        from obt_tools.local.stack import read_stack, stack_env
    except ImportError:
        read_stack = stack_env = None
    state_dir = Path(environ.get("OBT_STATE_DIR", ".obt").strip() or ".obt")
    if read_stack is not None and read_stack(state_dir) is not None:
        for name, value in stack_env(state_dir).items():
            environ.setdefault(name, value)
        clients.publisher_client.cache_clear()
        clients.storage_client.cache_clear()
    if not environ.get("PUBSUB_EMULATOR_HOST"):
        raise UserError(
            "OBT_ENV=local but the local cloud is not running and PUBSUB_EMULATOR_HOST is unset: "
            "run `obt local up`, or set OBT_ENV=gcp to publish to Google Cloud"
        )


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


def gcloud_command(settings: Settings, announcement: Announcement) -> str:
    return (
        f"gcloud pubsub topics publish {settings.build_topic} --project {settings.project} "
        f"--message {shlex.quote(announcement.data.decode())}"
    )


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
