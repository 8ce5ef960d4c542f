"""The build completion message (Pub/Sub topic ``obt-build-complete``): its shape, builder, parser and limits.

Body: ``{"build_id": "obt-…", "manifest_uri": "gs://CURATED/obt/build_id=B/_MANIFEST.json", "status":
"succeeded" | "failed"}`` and an optional ``reason``. The Spark job, ``obt reconcile`` and ``obt backfill`` build it
with :func:`build_message`; ``load_obt`` reads it with :func:`parse_message`. A message over
``MAX_MESSAGE_BYTES`` is refused whole (no log line or ledger row should carry megabytes of text); a reason is cut
to ``MAX_REASON_CHARS`` with a marker saying how much was left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from obt_contract import ContractError
from obt_contract.layout import LayoutError, build_manifest_name, split_gs_uri

STATUSES = ("succeeded", "failed")
REQUIRED_FIELDS = ("build_id", "manifest_uri", "status")
MAX_MESSAGE_BYTES = 64 * 1024
MAX_REASON_CHARS = 4000
BUILD_ID_PREFIX = "obt-"
BUILD_ID_HEX_DIGITS = 20
_BUILD_ID = re.compile(rf"^{BUILD_ID_PREFIX}[0-9a-f]{{{BUILD_ID_HEX_DIGITS}}}$")


class MessageError(ContractError):
    """A completion message that is too large, not JSON, misses a field, or points outside the curated bucket."""


@dataclass(frozen=True)
class CompletionMessage:
    build_id: str
    manifest_uri: str
    status: str
    reason: str | None = None

    def attributes(self, origin: str) -> dict[str, str]:
        """Pub/Sub attributes: what a subscriber can filter on without parsing the body."""
        return {"build_id": self.build_id, "status": self.status, "origin": origin}


def truncate(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with how many were left out."""
    if len(text) <= limit:
        return text
    marker = f"… [truncated {len(text) - limit + 40} characters]"
    return text[: max(0, limit - len(marker))] + marker


def check_build_id(build_id: object) -> str:
    if not isinstance(build_id, str) or not _BUILD_ID.match(build_id):
        raise MessageError(
            f"build_id must look like {BUILD_ID_PREFIX}<{BUILD_ID_HEX_DIGITS} hex digits>, got {build_id!r}"
        )
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


def completion_message(build_id: str, manifest_uri: str, status: str, reason: str | None = None) -> CompletionMessage:
    """A message to publish; the reason is truncated to the limit."""
    if status not in STATUSES:
        raise MessageError(f"status must be one of {STATUSES}, got {status!r}")
    return CompletionMessage(build_id, manifest_uri, status, truncate(reason) if reason else None)


def encode(message: CompletionMessage) -> bytes:
    """The JSON bytes to publish (also what ``gcloud pubsub topics publish --message`` would send)."""
    body: dict[str, Any] = {
        "build_id": message.build_id,
        "manifest_uri": message.manifest_uri,
        "status": message.status,
    }
    if message.reason:
        body["reason"] = message.reason
    return json.dumps(body, separators=(",", ":")).encode()


def build_message(build_id: str, manifest_uri: str, status: str, reason: str | None = None) -> bytes:
    """:func:`completion_message` encoded: the bytes every publisher sends."""
    return encode(completion_message(build_id, manifest_uri, status, reason))


def parse_message(data: bytes, curated_bucket: str) -> CompletionMessage:
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError(f"message is {len(data):,} bytes, over the limit of {MAX_MESSAGE_BYTES:,}")
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError(f"message is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MessageError(f"message must be a JSON object, got {type(body).__name__}")
    missing = [k for k in REQUIRED_FIELDS if k not in body]
    if missing:
        raise MessageError(f"message misses {', '.join(missing)}")
    build_id = check_build_id(body["build_id"])
    status = body["status"]
    if status not in STATUSES:
        raise MessageError(f"status must be one of {STATUSES}, got {status!r}")
    reason = body.get("reason")
    if reason is not None and not isinstance(reason, str):
        raise MessageError(f"reason must be a string, got {type(reason).__name__}")
    return CompletionMessage(
        build_id=build_id,
        manifest_uri=check_manifest_uri(body["manifest_uri"], build_id, curated_bucket),
        status=status,
        reason=truncate(reason) if reason else reason,
    )
