"""The completion message as ``load_obt`` receives it: unwrapped from the CloudEvent Eventarc sends for
``google.cloud.pubsub.topic.v1.messagePublished``, then parsed by the contract (``obt_contract.message``).

Everything wrong with a message is a ``MessageError`` (a ``PermanentError``): the loader logs it and
acknowledges, because redelivering the same bytes can never succeed.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from obt.errors import PermanentError
from obt_contract import message as contract
from obt_contract.message import CompletionMessage

# The base64 length of a message of MAX_MESSAGE_BYTES (padded to whole 4-character groups).
_MAX_BASE64_CHARS = 4 * -(-contract.MAX_MESSAGE_BYTES // 3)


class MessageError(PermanentError):
    """A completion message that is not JSON, misses a field, or points outside the curated bucket."""


@dataclass(frozen=True)
class PubSubDelivery:
    """The Pub/Sub message inside a messagePublished CloudEvent."""

    data: bytes
    message_id: str
    attributes: dict[str, str]


def parse_message(data: bytes, curated_bucket: str) -> CompletionMessage:
    try:
        return contract.parse_message(data, curated_bucket)
    except contract.MessageError as exc:
        raise MessageError(str(exc)) from exc


def decode_pubsub_event(data: object) -> PubSubDelivery:
    """``{"message": {"data": base64, "attributes", "messageId"}, "subscription"}`` -> the message."""
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise MessageError("event data is not a Pub/Sub messagePublished payload (no 'message' object)")
    message = data["message"]
    encoded = message.get("data", "")
    if not isinstance(encoded, str):
        raise MessageError("Pub/Sub message data must be a base64 string")
    if len(encoded) > _MAX_BASE64_CHARS:
        # Refused before decoding: megabytes of text are neither decoded nor quoted anywhere.
        raise MessageError(
            f"message is about {len(encoded) * 3 // 4:,} bytes, over the limit of {contract.MAX_MESSAGE_BYTES:,}"
        )
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
