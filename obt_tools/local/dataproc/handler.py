"""HTTP for the local Dataproc endpoint: REST paths to ``DataprocService`` calls, JSON in and out.

It speaks what ``google-cloud-dataproc`` sends with ``transport="rest"`` and
``ClientOptions(api_endpoint="http://127.0.0.1:P")`` (``obt.clients.batch_client``):

- ``POST   /v1/projects/P/locations/R/batches?batchId=X&requestId=Q`` (CreateBatch) -> Operation
- ``GET    /v1/projects/P/locations/R/batches/X`` (GetBatch), ``DELETE`` (DeleteBatch, terminal batches only)
- ``GET    /v1/projects/P/locations/R/batches?pageSize&pageToken&filter&orderBy`` (ListBatches, newest first)
- ``GET    /v1/projects/P/regions/R/operations/O`` (also ``locations``), ``POST …/operations/O:cancel``,
  ``GET    /v1/projects/P/regions/R/operations`` (ListOperations)
- ``GET    /healthz`` (not Dataproc: readiness probe for ``obt local up``)

Errors leave as Google's JSON error body, ``{"error": {"code": <HTTP status>, "message", "status"}}``: the client
library turns the HTTP status into its exception class, so the status mapping here is what callers catch.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from obt.log import get_logger
from obt_tools.local.dataproc.service import ApiError, DataprocService

log = get_logger(__name__)

_HTTP_FOR_STATUS = {
    "INVALID_ARGUMENT": HTTPStatus.BAD_REQUEST,
    "FAILED_PRECONDITION": HTTPStatus.BAD_REQUEST,
    "NOT_FOUND": HTTPStatus.NOT_FOUND,
    "ALREADY_EXISTS": HTTPStatus.CONFLICT,
    "UNIMPLEMENTED": HTTPStatus.NOT_IMPLEMENTED,
    "INTERNAL": HTTPStatus.INTERNAL_SERVER_ERROR,
}

_SEG = r"([^/:]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(r"^/healthz$"), "healthz"),
    ("POST", re.compile(rf"^/v1/projects/{_SEG}/locations/{_SEG}/batches$"), "create"),
    ("GET", re.compile(rf"^/v1/projects/{_SEG}/locations/{_SEG}/batches$"), "list"),
    ("GET", re.compile(rf"^/v1/projects/{_SEG}/locations/{_SEG}/batches/{_SEG}$"), "get"),
    ("DELETE", re.compile(rf"^/v1/projects/{_SEG}/locations/{_SEG}/batches/{_SEG}$"), "delete"),
    ("GET", re.compile(rf"^/v1/projects/{_SEG}/(?:regions|locations)/{_SEG}/operations/{_SEG}$"), "get_op"),
    ("POST", re.compile(rf"^/v1/projects/{_SEG}/(?:regions|locations)/{_SEG}/operations/{_SEG}:cancel$"), "cancel"),
    ("GET", re.compile(rf"^/v1/projects/{_SEG}/(?:regions|locations)/{_SEG}/operations$"), "list_ops"),
]


def error_reply(exc: ApiError) -> tuple[int, dict[str, Any]]:
    """The HTTP status and Google's JSON error body for a refused request."""
    http_status = int(_HTTP_FOR_STATUS.get(exc.status, HTTPStatus.INTERNAL_SERVER_ERROR))
    return http_status, {"error": {"code": http_status, "message": exc.message, "status": exc.status}}


def make_handler(service: DataprocService) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``service`` (``http.server`` instantiates it once per request)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._dispatch("GET")

        def do_POST(self) -> None:
            self._dispatch("POST")

        def do_DELETE(self) -> None:
            self._dispatch("DELETE")

        def _dispatch(self, method: str) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            try:
                body = self._body()
                for route_method, pattern, action in _ROUTES:
                    match = pattern.match(parts.path)
                    if match and route_method == method:
                        self._reply(HTTPStatus.OK, self._call(action, match.groups(), query, body))
                        return
                raise ApiError("NOT_FOUND", f"no Dataproc method for {method} {parts.path}")
            except ApiError as exc:
                log.info("request rejected", method=method, path=parts.path, status=exc.status, reason=exc.message)
                self._reply(*error_reply(exc))
            except Exception as exc:  # noqa: BLE001 - the client must get an answer, not a dropped socket
                log.error("request failed", exc_info=True, method=method, path=parts.path)
                self._reply(*error_reply(ApiError("INTERNAL", str(exc))))

        def _call(self, action: str, groups: tuple[str, ...], query: Mapping[str, str], body: Any) -> dict:
            if action == "healthz":
                return {"status": "ok"}
            if action == "create":
                if not isinstance(body, dict):
                    raise ApiError("INVALID_ARGUMENT", "the request body must be a Batch JSON object")
                return service.create_batch(*groups, query.get("batchId", ""), query.get("requestId", ""), body)
            handlers: dict[str, Callable[[], dict]] = {
                "list": lambda: service.list_batches(*groups, query),
                "get": lambda: service.get_batch(*groups),
                "delete": lambda: service.delete_batch(*groups),
                "get_op": lambda: service.get_operation(*groups),
                "cancel": lambda: service.cancel_operation(*groups),
                "list_ops": lambda: service.list_operations(*groups),
            }
            return handlers[action]()

        def _body(self) -> Any:
            length = int(self.headers.get("Content-Length") or 0)
            if not length:
                return None
            try:
                return json.loads(self.rfile.read(length))
            except ValueError as exc:
                raise ApiError("INVALID_ARGUMENT", f"request body is not JSON: {exc}") from None

        def _reply(self, status: int, payload: Mapping) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            # http.server writes access lines to stderr; the endpoint's logs are JSON on stdout.
            log.debug("http", request=format % args)

    return Handler
