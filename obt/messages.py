"""The build completion message (``docs/contracts.md``): build it, parse and validate it, and unwrap it
from the CloudEvent Eventarc sends for ``google.cloud.pubsub.topic.v1.messagePublished``.

Everything wrong with a message is a ``MessageError`` (a ``PermanentError``): the loader logs it and
acknowledges, because redelivering the same bytes can never succeed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from obt.errors import PermanentError
from obt.layout import LayoutError, build_manifest_name, split_gs_uri

STATUSES = ("succeeded", "failed")
_BUILD_ID = re.compile(r"^obt-[0-9a-f]{20}$")


class MessageError(PermanentError):
    """A completion message that is not JSON, misses a field, or points outside the curated bucket."""


@dataclass(frozen=True)
class CompletionMessage:
    build_id: str
    manifest_uri: str
    status: str
    reason: str | None = None


@dataclass(frozen=True)
class PubSubDelivery:
    """The Pub/Sub message inside a messagePublished CloudEvent."""

    data: bytes
    message_id: str
    attributes: dict[str, str]


def check_build_id(build_id: object) -> str:
    if not isinstance(build_id, str) or not _BUILD_ID.match(build_id):
        raise MessageError(f"build_id must look like obt-<20 hex digits>, got {build_id!r}")
    return build_id


def check_manifest_uri(uri: object, build_id: str, curated_bucket: str) -> str:
    """The manifest must be the build's own, in the curated bucket: nothing else is ever loaded."""
    if not isinstance(uri, str):
        raise MessageError(f"manifest_uri must be a string, got {uri!r}")
    try:
        bucket, name = split_gs_uri(uri)
    except LayoutError as exc:
        raise MessageError(str(exc)) from exc
    if bucket != curated_bucket:
        raise MessageError(f"manifest_uri {uri!r} is outside the curated bucket gs://{curated_bucket}")
    expected = build_manifest_name(build_id)
    if name != expected:
        raise MessageError(f"manifest_uri {uri!r} is not the manifest of {build_id} ({expected})")
    return uri


def build_message(build_id: str, manifest_uri: str, status: str, reason: str | None = None) -> bytes:
    """The JSON bytes to publish (also what ``gcloud pubsub topics publish --message`` would send)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
    body: dict[str, Any] = {"build_id": build_id, "manifest_uri": manifest_uri, "status": status}
    if reason:
        body["reason"] = reason
    return json.dumps(body, separators=(",", ":")).encode()


def parse_message(data: bytes, curated_bucket: str) -> CompletionMessage:
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"message is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MessageError(f"message must be a JSON object, got {type(body).__name__}")
    missing = [k for k in ("build_id", "manifest_uri", "status") if k not in body]
    if missing:
        raise MessageError(f"message misses {', '.join(missing)}")
    build_id = check_build_id(body["build_id"])
    status = body["status"]
    if status not in STATUSES:
        raise MessageError(f"status must be one of {STATUSES}, got {status!r}")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MessageError(f"reason must be a string, got {reason!r}")
    return CompletionMessage(
        build_id=build_id,
        manifest_uri=check_manifest_uri(body["manifest_uri"], build_id, curated_bucket),
        status=status,
        reason=reason,
    )


def decode_pubsub_event(data: object) -> PubSubDelivery:
    """``{"message": {"data": base64, "attributes", "messageId"}, "subscription"}`` -> the message."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise MessageError("event data is not a Pub/Sub messagePublished payload (no 'message' object)")
    message = data["message"]
    encoded = message.get("data", "")
    if not isinstance(encoded, str):
        raise MessageError("Pub/Sub message data must be a base64 string")
    try:
        payload = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MessageError(f"Pub/Sub message data is not base64: {exc}") from exc
    attributes = message.get("attributes") or {}
    return PubSubDelivery(
        data=payload,
        message_id=str(message.get("messageId") or message.get("message_id") or ""),
        attributes={str(k): str(v) for k, v in attributes.items()} if isinstance(attributes, dict) else {},
    )
