"""What the functions answer: a JSON body, and the status code the platform acts on.

Decisions:

- The event functions (``on_raw_landed``, ``load_obt``) are served as HTTP functions that parse the CloudEvent
  themselves with ``cloudevents.http.from_http`` (binary mode, what Eventarc sends, or structured mode), as
  functions-framework's ``@cloud_event`` does; ``@cloud_event`` itself answers a bare ``OK`` whatever happened,
  and Flask's HTML 400 page to a request without CloudEvent headers.
- Every answer to an event is ``{"action", "reason", "build_id"}`` (plus ``missing``, the inputs a waiting build
  lacks, when there are any), so a person posting by hand, and the logs of the Eventarc stand-in, see the outcome.
- 2xx acknowledges: an event that can never succeed (wrong type, malformed data or message, a build that does not
  exist) answers 200 with action ``rejected``, so Eventarc stops redelivering it. ``TransientError`` answers 503
  (action ``retry``) and any other exception 500 (action ``error``, logged with its traceback): Eventarc redelivers
  both, with backoff, as it did when the function raised.
- A request that is not a CloudEvent at all answers 400 with the reason: Eventarc never sends one; a person with
  ``curl`` learns which header is missing.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cloudevents import exceptions as ce_exceptions
from cloudevents.http import CloudEvent, from_http
from functions_framework import event_conversion

from obt.errors import TransientError
from obt.log import get_logger
from obt_contract.message import truncate

log = get_logger(__name__)

JsonResponse = tuple[str, int, dict[str, str]]
# Reasons quote what they reject (a request body, a message): a glimpse is enough in an answer, cut with a marker.
REASON_CHARS = 500


def json_response(body: Mapping[str, Any], status: int = 200) -> JsonResponse:
    return json.dumps(body, default=str), status, {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Answer:
    """What an event function did with one event."""

    action: str
    reason: str
    build_id: str | None = None
    missing: Sequence[str] = ()

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"action": self.action, "reason": truncate(self.reason, REASON_CHARS)}
        body["build_id"] = self.build_id
        if self.missing:
            body["missing"] = list(self.missing)
        return body


def answer(result: Answer, status: int = 200) -> JsonResponse:
    return json_response(result.body(), status)


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def serve_event(request: Any, event_type: str, handle: Callable[[CloudEvent], Answer]) -> JsonResponse:
    """Parse the Flask ``request`` as a CloudEvent of ``event_type``, run ``handle``, map its outcome (module doc)."""
    try:
        event = from_http(dict(request.headers), request.get_data())
    except ce_exceptions.GenericException as exc:
        try:
            # What ``@functions_framework.cloud_event`` also accepts: a legacy background event or a raw Pub/Sub
            # push (a push subscription pointed straight at the function), converted to its CloudEvent.
            event = event_conversion.background_event_to_cloud_event(request)
        # The conversion raises whatever its parsing meets (werkzeug's 415, TypeError on unknown keys, …):
        # any failure means the request is neither shape, which is the client's error.
        except Exception:
            reason = (
                f"not a CloudEvent (ce-specversion, ce-type, ce-source and ce-id headers, or a structured body): {exc}"
            )
            log.warning("request rejected", action="rejected", reason=truncate(reason, REASON_CHARS))
            return answer(Answer("rejected", reason), 400)
    if event["type"] != event_type:
        reason = f"unexpected CloudEvent type {event['type']!r}; this function handles only {event_type}"
        log.error("event rejected", action="rejected", reason=reason, event_id=event["id"])
        return answer(Answer("rejected", reason))
    try:
        return answer(handle(event))
    except TransientError as exc:
        log.warning(
            "event not handled; Eventarc will redeliver it", action="retry", reason=str(exc), event_id=event["id"]
        )
        return answer(Answer("retry", str(exc)), 503)
    except Exception as exc:
        log.error("event failed; Eventarc will redeliver it", exc_info=True, action="error", event_id=event["id"])
        return answer(Answer("error", _error_text(exc)), 500)


def json_errors(function: Callable[[Any], JsonResponse]) -> Callable[[Any], JsonResponse]:
    """For the HTTP functions: an unexpected exception answers JSON 500 ``{"error"}`` (logged with its traceback)
    instead of functions-framework's plain-text crash page; Cloud Scheduler retries it like any 5xx."""

    @functools.wraps(function)
    def guarded(request: Any) -> JsonResponse:
        try:
            return function(request)
        except Exception as exc:
            log.error("request failed", exc_info=True)
            return json_response({"error": truncate(_error_text(exc), REASON_CHARS)}, 500)

    return guarded
