"""The completion message, published through the Pub/Sub REST API with the standard library only.

Only the transport lives here: the bytes are the contract's (``obt_contract.message.encode``, which also applies
its limits), so every publisher sends the same message. Where the call goes (``PUBSUB_EMULATOR_HOST`` or
``pubsub.googleapis.com`` with the batch's token) and its retries are ``google_api``'s.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from obt_job import google_api
from obt_job.log import get_logger

log = get_logger(__name__)

PUBSUB_API = "https://pubsub.googleapis.com"


def publish(topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
    """Publish ``data`` as it is to ``topic`` (``projects/P/topics/T``); returns the message id."""
    message = {"data": base64.b64encode(data).decode(), "attributes": dict(attributes)}
    body = json.dumps({"messages": [message]}).encode()
    answer = google_api.call_json(
        lambda: google_api.request(
            "PUBSUB_EMULATOR_HOST", PUBSUB_API, f"/v1/{topic}:publish", data=body, method="POST"
        ),
        f"publishing to {topic}",
    )
    message_id = answer["messageIds"][0]
    log.info("completion message published", topic=topic, message_id=message_id, **attributes)
    return message_id
