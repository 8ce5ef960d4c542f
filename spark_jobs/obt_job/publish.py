"""The completion message, published through the Pub/Sub REST API with the standard library only.

Only the transport lives here: the bytes are the contract's (``obt_contract.message.encode``, which also applies
its limits), so every publisher sends the same message.

``PUBSUB_EMULATOR_HOST`` set: plain HTTP to the emulator, no credentials. Otherwise (Dataproc) an access
token of the batch's service account comes from the GCE metadata server, which Dataproc Serverless VMs
have, and the message goes to ``pubsub.googleapis.com``. No Python package is needed on the runtime.
"""

from __future__ import annotations

import base64
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Mapping

from obt_job.log import get_logger

log = get_logger(__name__)

PUBSUB_API = "https://pubsub.googleapis.com"
TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
ATTEMPTS = 5


class PublishError(RuntimeError):
    """The message could not be published after retries."""


def _token() -> str:
    request = urllib.request.Request(TOKEN_URL, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def _request(topic: str, body: bytes) -> urllib.request.Request:
    emulator = os.environ.get("PUBSUB_EMULATOR_HOST", "").strip()
    headers = {"Content-Type": "application/json"}
    if emulator:
        base = emulator if emulator.startswith("http") else f"http://{emulator}"
    else:
        base = PUBSUB_API
        headers["Authorization"] = f"Bearer {_token()}"
    return urllib.request.Request(f"{base}/v1/{topic}:publish", data=body, headers=headers, method="POST")


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 429) or exc.code >= 500
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError))


def publish(topic: str, data: bytes, attributes: Mapping[str, str]) -> str:
    """Publish ``data`` as it is to ``topic`` (``projects/P/topics/T``); returns the message id."""
    message = {"data": base64.b64encode(data).decode(), "attributes": dict(attributes)}
    body = json.dumps({"messages": [message]}).encode()
    attempt = 1
    while True:
        try:
            with urllib.request.urlopen(_request(topic, body), timeout=30) as response:
                message_id = json.load(response)["messageIds"][0]
            log.info("completion message published", topic=topic, message_id=message_id, **attributes)
            return message_id
        except Exception as exc:
            if attempt >= ATTEMPTS or not _retryable(exc):
                raise PublishError(f"publishing to {topic} failed: {exc}") from exc
            log.warning("publish failed, retrying", topic=topic, attempt=attempt, error=str(exc))
            time.sleep(min(2**attempt, 20))
            attempt += 1
