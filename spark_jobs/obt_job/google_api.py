"""Google REST calls with the standard library only: where to send them, the token, and the retries.

Dataproc Serverless has no Google Python clients, so the job speaks REST itself, to Pub/Sub (``publish``) and to
Cloud Storage's JSON API (``inputs``). An emulator variable set (``PUBSUB_EMULATOR_HOST``,
``STORAGE_EMULATOR_HOST``) sends the call there as plain HTTP without credentials, the way the Google clients do;
otherwise the batch's service account token comes from the GCE metadata server, which Dataproc Serverless VMs have.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from obt_job.log import get_logger

log = get_logger(__name__)

TOKEN_URL = "http://metadata.google.internal/computeMetadata/v1/instance/service-accounts/default/token"
ATTEMPTS = 5


class ApiError(RuntimeError):
    """A call that still failed after its retries, or failed in a way a retry cannot change."""


def _token() -> str:
    request = urllib.request.Request(TOKEN_URL, headers={"Metadata-Flavor": "Google"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["access_token"]


def request(
    emulator_variable: str, api: str, path: str, *, data: bytes | None = None, method: str = "GET"
) -> urllib.request.Request:
    """A request for ``path`` on the emulator named by ``emulator_variable`` when it is set, else on ``api``."""
    emulator = os.environ.get(emulator_variable, "").strip().rstrip("/")
    headers = {"Content-Type": "application/json"} if data is not None else {}
    if emulator:
        base = emulator if emulator.startswith("http") else f"http://{emulator}"
    else:
        base = api
        headers["Authorization"] = f"Bearer {_token()}"
    return urllib.request.Request(f"{base}{path}", data=data, headers=headers, method=method)


def _retryable(exc: Exception) -> bool:
    if isinstance(exc, urllib.error.HTTPError):
        return exc.code in (408, 429) or exc.code >= 500
    return isinstance(exc, (urllib.error.URLError, TimeoutError, ConnectionError))


def call_json(
    make_request: Callable[[], urllib.request.Request], what: str, *, absent: frozenset[int] = frozenset()
) -> Any:
    """The JSON answer of a request, retried with backoff on transient errors; ``None`` for an ``absent`` status.

    ``make_request`` is called per attempt, so an expired token is fetched again.
    """
    attempt = 1
    while True:
        try:
            with urllib.request.urlopen(make_request(), timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code in absent:
                return None
            error: Exception = exc
        except Exception as exc:  # noqa: BLE001 - classified below, re-raised as ApiError
            error = exc
        if attempt >= ATTEMPTS or not _retryable(error):
            raise ApiError(f"{what} failed: {error}") from error
        log.warning("Google API call failed, retrying", what=what, attempt=attempt, error=str(error))
        time.sleep(min(2**attempt, 20))
        attempt += 1
