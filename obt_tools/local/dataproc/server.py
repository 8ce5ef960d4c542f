"""A local Dataproc endpoint: the Dataproc v1 batches REST API, running PySpark batches with spark-submit.

It speaks what ``google-cloud-dataproc`` sends with ``transport="rest"`` and
``ClientOptions(api_endpoint="http://127.0.0.1:P")`` (``obt.clients.batch_client``):

- ``POST   /v1/projects/P/locations/R/batches?batchId=X&requestId=Q`` (CreateBatch) -> Operation
- ``GET    /v1/projects/P/locations/R/batches/X`` (GetBatch), ``DELETE`` (DeleteBatch, terminal batches only)
- ``GET    /v1/projects/P/locations/R/batches?pageSize&pageToken&filter&orderBy`` (ListBatches, newest first)
- ``GET    /v1/projects/P/regions/R/operations/O`` (also ``locations``), ``POST …/operations/O:cancel``,
  ``GET    /v1/projects/P/regions/R/operations`` (ListOperations)
- ``GET    /healthz`` (not Dataproc: readiness probe for ``obt local up``)

Semantics kept from GCP:

- The create operation completes when the batch does, so ``create_batch(...).result()`` waits for the
  run; callers that must not block (``on_raw_landed``) just drop the returned operation. SUCCEEDED and
  CANCELLED end with the Batch as ``response``; FAILED ends with ``error`` (code 2, UNKNOWN, and the
  batch's state message), so ``result()`` raises ``google.api_core.exceptions.Unknown``.
- A reused batch id is HTTP 409 ``ALREADY_EXISTS``. Over REST the client raises
  ``google.api_core.exceptions.Conflict`` (it maps by HTTP status; ``AlreadyExists`` is a *subclass* of
  ``Conflict``, so catch ``Conflict``). The same ``requestId`` for the same batch id is an idempotent
  retry and returns the original operation instead.
- Batch ids are 4-63 characters of ``[a-z0-9-]``; a missing id gets a generated one.
- Cancel with ``client.cancel_operation(request={"name": op.operation.name})``: ``op.cancel()`` fails
  inside google-api-core's REST operations transport (``KeyError: 'body'``) against GCP as well.

Local differences: batch ids are unique across the whole endpoint (not per project/region); one batch
runs at a time by default (a queue); only ``pysparkBatch`` runs. See ``runner`` for the gs:// split.

State lives under ``STATE/dataproc``: ``batches/<id>.json`` (the Batch plus bookkeeping, written
atomically), ``batches/<id>/driver.log`` (``runtimeInfo.outputUri``), ``mirror/`` (inputs). On start,
PENDING batches are queued again and batches that were RUNNING become FAILED, their driver stopped.
"""

from __future__ import annotations

import base64
import json
import os
import queue
import re
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from obt.log import get_logger
from obt_tools.local.dataproc import runner

log = get_logger(__name__)

BATCH_TYPE = "type.googleapis.com/google.cloud.dataproc.v1.Batch"
METADATA_TYPE = "type.googleapis.com/google.cloud.dataproc.v1.BatchOperationMetadata"
TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
_BATCH_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,61}[a-z0-9]$")
_STATUS_CODES = {"CANCELLED": 1, "UNKNOWN": 2, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "ALREADY_EXISTS": 6}
_HTTP_FOR_STATUS = {
    "INVALID_ARGUMENT": HTTPStatus.BAD_REQUEST,
    "FAILED_PRECONDITION": HTTPStatus.BAD_REQUEST,
    "NOT_FOUND": HTTPStatus.NOT_FOUND,
    "ALREADY_EXISTS": HTTPStatus.CONFLICT,
    "UNIMPLEMENTED": HTTPStatus.NOT_IMPLEMENTED,
    "INTERNAL": HTTPStatus.INTERNAL_SERVER_ERROR,
}
ENDPOINT_STOPPED = "The local Dataproc endpoint stopped while the batch was running; its driver was stopped."


class ApiError(Exception):
    """An error returned to the client as Google's JSON error body."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    @property
    def http_status(self) -> int:
        return int(_HTTP_FOR_STATUS.get(self.status, HTTPStatus.INTERNAL_SERVER_ERROR))

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.http_status, "message": self.message, "status": self.status}}


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class BatchStore:
    """Batch records on disk, one JSON file per batch, with an in-memory index. Callers hold ``lock``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "batches"
        self.mirror = root / "mirror"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mirror.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Any]] = {}
        for path in sorted(self.dir.glob("*.json")):
            try:
                record = json.loads(path.read_text())
                self.records[record["batch"]["name"].rsplit("/", 1)[-1]] = record
            except (OSError, ValueError, KeyError) as exc:
                log.error("unreadable batch record left as is", path=str(path), error=str(exc))

    def log_path(self, batch_id: str) -> Path:
        return self.dir / batch_id / "driver.log"

    def save(self, batch_id: str) -> None:
        path = self.dir / f"{batch_id}.json"
        partial = path.with_suffix(".json.part")
        partial.write_text(json.dumps(self.records[batch_id], indent=1, sort_keys=True))
        os.replace(partial, path)

    def delete(self, batch_id: str) -> None:
        self.records.pop(batch_id)
        (self.dir / f"{batch_id}.json").unlink(missing_ok=True)
        log_dir = self.dir / batch_id
        if log_dir.is_dir():
            for child in log_dir.iterdir():
                child.unlink()
            log_dir.rmdir()


def _set_state(record: dict[str, Any], state: str, message: str = "") -> None:
    batch = record["batch"]
    if batch.get("state"):
        entry = {"state": batch["state"], "stateStartTime": batch["stateTime"]}
        if batch.get("stateMessage"):
            entry["stateMessage"] = batch["stateMessage"]
        batch.setdefault("stateHistory", []).append(entry)
    batch["state"] = state
    batch["stateTime"] = now_rfc3339()
    if message:
        batch["stateMessage"] = message
    else:
        batch.pop("stateMessage", None)
    if state in TERMINAL:
        record["done_time"] = batch["stateTime"]


def _match_filter(batch: Mapping[str, Any], clauses: list[tuple[str, str, str]]) -> bool:
    ops: dict[str, Callable[[str, str], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
    }
    for field_name, op, value in clauses:
        if field_name == "state":
            actual = batch.get("state", "")
        elif field_name == "batch_id":
            actual = batch["name"].rsplit("/", 1)[-1]
        elif field_name == "batch_uuid":
            actual = batch.get("uuid", "")
        elif field_name == "create_time":
            # Same-format RFC 3339 UTC strings compare correctly as text.
            actual, value = batch.get("createTime", "")[:19], value[:19]
        else:
            actual = batch.get("labels", {}).get(field_name[len("labels.") :], "")
        if not ops[op](actual, value):
            return False
    return True


_CLAUSE = re.compile(r"^\s*([a-z_]+|labels\.[\w.-]+)\s*(!=|<=|>=|=|<|>)\s*(\"[^\"]*\"|'[^']*'|\S+)\s*$")


def parse_filter(text: str) -> list[tuple[str, str, str]]:
    """ListBatches filter: clauses on state, batch_id, batch_uuid, create_time, labels.K joined by AND."""
    if not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match or not (match[1] in ("state", "batch_id", "batch_uuid", "create_time") or "." in match[1]):
            raise ApiError("INVALID_ARGUMENT", f"unsupported filter clause {part!r}")
        clauses.append((match[1], match[2], match[3].strip("\"'")))
    return clauses


class DataprocService:
    """The API's logic and the batch queue; the HTTP handler only routes to it."""

    def __init__(
        self,
        state_dir: Path,
        *,
        max_concurrent: int = 1,
        master: str = "local[*]",
        driver_memory: str = "1g",
        env: Mapping[str, str] | None = None,
        storage_client_factory: Callable[[str], Any] | None = None,
    ) -> None:
        self.store = BatchStore(Path(state_dir) / "dataproc")
        self.master = master
        self.driver_memory = driver_memory
        self.env = runner.driver_env(os.environ if env is None else env)
        self._storage_client_factory = storage_client_factory or _emulator_storage_client
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._procs: dict[str, subprocess.Popen] = {}
        self._cancelled: set[str] = set()
        self._stopping = False
        self._workers = [
            threading.Thread(target=self._work, name=f"dataproc-worker-{i}", daemon=True) for i in range(max_concurrent)
        ]
        self._recover()

    # -- lifecycle -----------------------------------------------------------------------------------

    def _recover(self) -> None:
        with self.store.lock:
            pending = []
            for batch_id, record in self.store.records.items():
                state = record["batch"].get("state")
                if state in ("RUNNING", "CANCELLING"):
                    _stop_orphan(record.get("driver_pid"), batch_id)
                    _set_state(record, "FAILED", ENDPOINT_STOPPED)
                    self.store.save(batch_id)
                    log.warning("batch marked failed after restart", batch_id=batch_id, previous_state=state)
                elif state == "PENDING":
                    pending.append((record["batch"]["createTime"], batch_id))
            for _, batch_id in sorted(pending):
                self._queue.put(batch_id)
                log.info("pending batch queued again after restart", batch_id=batch_id)

    def start(self) -> None:
        for worker in self._workers:
            worker.start()

    def stop(self) -> None:
        """Stop the workers and every running driver; running batches end FAILED, pending ones stay queued."""
        with self.store.lock:
            self._stopping = True
            running = list(self._procs.items())
            for batch_id, _ in running:
                self._cancelled.add(batch_id)
                record = self.store.records[batch_id]
                if record["batch"]["state"] not in TERMINAL:
                    _set_state(record, "FAILED", ENDPOINT_STOPPED)
                    self.store.save(batch_id)
        for batch_id, proc in running:
            _terminate(proc)
            log.warning("driver stopped with the endpoint", batch_id=batch_id, pid=proc.pid)
        for _ in self._workers:
            self._queue.put(None)
        for worker in self._workers:
            if worker.is_alive():
                worker.join(timeout=30)

    # -- API ---------------------------------------------------------------------------------------------

    def create_batch(self, project: str, location: str, batch_id: str, request_id: str, body: Mapping) -> dict:
        if not batch_id:
            batch_id = "b" + uuid.uuid4().hex[:30]
        if not _BATCH_ID.match(batch_id):
            raise ApiError("INVALID_ARGUMENT", f"batch id {batch_id!r} must be 4-63 characters of [a-z0-9-]")
        with self.store.lock:
            existing = self.store.records.get(batch_id)
            if existing:
                if request_id and existing.get("request_id") == request_id:
                    log.info("create retried with the same request id", batch_id=batch_id, request_id=request_id)
                    return self._operation(existing)
                raise ApiError(
                    "ALREADY_EXISTS", f"Batch projects/{project}/locations/{location}/batches/{batch_id} already exists"
                )
            plan = self._plan(batch_id, body)
            operation_id = str(uuid.uuid4())
            batch = {
                key: body[key]
                for key in ("pysparkBatch", "runtimeConfig", "environmentConfig", "labels")
                if key in body
            }
            batch.update(
                name=f"projects/{project}/locations/{location}/batches/{batch_id}",
                uuid=str(uuid.uuid4()),
                createTime=now_rfc3339(),
                creator="local-dataproc",
                operation=f"projects/{project}/regions/{location}/operations/{operation_id}",
                runtimeInfo={"outputUri": self.store.log_path(batch_id).resolve().as_uri()},
            )
            record = {"batch": batch, "operation_id": operation_id, "request_id": request_id, "project": project}
            self.store.records[batch_id] = record
            _set_state(record, "PENDING")
            self.store.save(batch_id)
        log.info(
            "batch created and queued",
            batch_id=batch_id,
            main=body["pysparkBatch"]["mainPythonFileUri"],
            dropped_properties=plan.dropped_properties,
            queued=self._queue.qsize() + 1,
        )
        self._queue.put(batch_id)
        return self._operation(record)

    def get_batch(self, project: str, location: str, batch_id: str) -> dict:
        with self.store.lock:
            return json.loads(json.dumps(self._record(project, location, batch_id)["batch"]))

    def list_batches(self, project: str, location: str, query: Mapping[str, str]) -> dict:
        clauses = parse_filter(query.get("filter", ""))
        order = query.get("orderBy", "create_time desc").strip().lower() or "create_time desc"
        if order not in ("create_time", "create_time asc", "create_time desc"):
            raise ApiError("INVALID_ARGUMENT", f"unsupported orderBy {order!r}: use create_time [asc|desc]")
        page_size = _int_param(query, "pageSize", 100)
        page_size = 100 if page_size <= 0 else min(page_size, 1000)
        offset = _decode_token(query.get("pageToken", ""))
        prefix = f"projects/{project}/locations/{location}/batches/"
        with self.store.lock:
            batches = [
                json.loads(json.dumps(r["batch"]))
                for r in self.store.records.values()
                if r["batch"]["name"].startswith(prefix) and _match_filter(r["batch"], clauses)
            ]
        batches.sort(key=lambda b: (b["createTime"], b["name"]), reverse=order.endswith("desc"))
        page = batches[offset : offset + page_size]
        response: dict[str, Any] = {"batches": page}
        if offset + page_size < len(batches):
            response["nextPageToken"] = base64.urlsafe_b64encode(str(offset + page_size).encode()).decode()
        return response

    def delete_batch(self, project: str, location: str, batch_id: str) -> dict:
        with self.store.lock:
            record = self._record(project, location, batch_id)
            state = record["batch"]["state"]
            if state not in TERMINAL:
                raise ApiError(
                    "FAILED_PRECONDITION", f"Batch {batch_id} is {state}; only finished batches can be deleted"
                )
            self.store.delete(batch_id)
        log.info("batch deleted", batch_id=batch_id, state=state)
        return {}

    def get_operation(self, project: str, region: str, operation_id: str) -> dict:
        with self.store.lock:
            return self._operation(self._record_for_operation(project, region, operation_id))

    def list_operations(self, project: str, region: str) -> dict:
        with self.store.lock:
            ops = [
                self._operation(r)
                for r in self.store.records.values()
                if r["batch"]["operation"].startswith(f"projects/{project}/regions/{region}/")
            ]
        ops.sort(key=lambda op: op["metadata"]["createTime"], reverse=True)
        return {"operations": ops}

    def cancel_operation(self, project: str, region: str, operation_id: str) -> dict:
        with self.store.lock:
            record = self._record_for_operation(project, region, operation_id)
            batch_id = record["batch"]["name"].rsplit("/", 1)[-1]
            state = record["batch"]["state"]
            if state in TERMINAL or state == "CANCELLING":
                return {}
            self._cancelled.add(batch_id)
            proc = self._procs.get(batch_id)
            if proc is None:
                # Not started yet: the worker skips it when it comes off the queue.
                _set_state(record, "CANCELLED", "Cancelled before it started.")
            else:
                _set_state(record, "CANCELLING")
            self.store.save(batch_id)
        log.info("batch cancel requested", batch_id=batch_id, previous_state=state)
        if proc is not None:
            # The worker records CANCELLED once the driver has exited; the request need not wait for that.
            threading.Thread(target=_terminate, args=(proc,), daemon=True).start()
        return {}

    # -- internals -----------------------------------------------------------------------------------

    def _plan(self, batch_id: str, body: Mapping) -> runner.SubmitPlan:
        try:
            return runner.plan_submit(
                body,
                batch_id=batch_id,
                mirror=self.store.mirror.resolve(),
                spark_submit=runner.find_spark_submit(),
                master=self.master,
                driver_memory=self.driver_memory,
            )
        except runner.BatchSpecError as exc:
            raise ApiError("INVALID_ARGUMENT", str(exc)) from None

    def _record(self, project: str, location: str, batch_id: str) -> dict[str, Any]:
        record = self.store.records.get(batch_id)
        name = f"projects/{project}/locations/{location}/batches/{batch_id}"
        if not record or record["batch"]["name"] != name:
            raise ApiError("NOT_FOUND", f"Not found: Batch {name}")
        return record

    def _record_for_operation(self, project: str, region: str, operation_id: str) -> dict[str, Any]:
        name = f"projects/{project}/regions/{region}/operations/{operation_id}"
        for record in self.store.records.values():
            if record["batch"]["operation"] == name:
                return record
        raise ApiError("NOT_FOUND", f"Not found: Operation {name}")

    def _operation(self, record: Mapping[str, Any]) -> dict[str, Any]:
        batch = record["batch"]
        metadata = {
            "@type": METADATA_TYPE,
            "batch": batch["name"],
            "batchUuid": batch["uuid"],
            "createTime": batch["createTime"],
            "operationType": "BATCH",
            "description": "Batch",
        }
        if batch.get("labels"):
            metadata["labels"] = batch["labels"]
        operation: dict[str, Any] = {"name": batch["operation"], "metadata": metadata, "done": False}
        state = batch["state"]
        if state in TERMINAL:
            metadata["doneTime"] = record.get("done_time", batch["stateTime"])
            operation["done"] = True
            if state == "FAILED":
                message = batch.get("stateMessage") or "Batch failed."
                operation["error"] = {"code": _STATUS_CODES["UNKNOWN"], "message": message}
            else:
                operation["response"] = {"@type": BATCH_TYPE, **json.loads(json.dumps(batch))}
        return operation

    def _work(self) -> None:
        while True:
            batch_id = self._queue.get()
            if batch_id is None:
                return
            try:
                self._run(batch_id)
            except Exception as exc:  # noqa: BLE001 - a worker must survive any one batch
                log.error("batch run crashed", exc_info=True, batch_id=batch_id)
                self._finish(batch_id, "FAILED", f"Local endpoint error: {exc}")

    def _run(self, batch_id: str) -> None:
        with self.store.lock:
            record = self.store.records.get(batch_id)
            # While stopping, queued batches stay PENDING: the next start queues them again.
            if record is None or record["batch"]["state"] != "PENDING" or batch_id in self._cancelled or self._stopping:
                return
            body = json.loads(json.dumps(record["batch"]))
            project = record.get("project", "")
        plan = self._plan(batch_id, body)
        if plan.downloads:
            if not self.env.get("STORAGE_EMULATOR_HOST"):
                self._fail_before_start(
                    batch_id,
                    "gs:// URIs need STORAGE_EMULATOR_HOST in the endpoint's "
                    "environment; the local endpoint never talks to real Cloud Storage.",
                )
                return
            try:
                skipped = runner.stage_inputs(plan, self._storage_client_factory(project), log)
            except Exception as exc:  # noqa: BLE001 - any staging failure fails this batch only
                self._fail_before_start(batch_id, f"Could not stage inputs: {exc}")
                return
            if skipped:
                log.info("gs:// arguments without an object treated as outputs", batch_id=batch_id, uris=skipped)
        log_path = self.store.log_path(batch_id)
        with self.store.lock:
            if batch_id in self._cancelled or self._stopping:
                return
            proc = runner.start_driver(plan, log_path, self.env)
            self._procs[batch_id] = proc
            record["driver_pid"] = proc.pid
            _set_state(record, "RUNNING")
            self.store.save(batch_id)
        log.info("driver started", batch_id=batch_id, pid=proc.pid, log=str(log_path))
        exit_code = proc.wait()
        with self.store.lock:
            self._procs.pop(batch_id, None)
            cancelled = batch_id in self._cancelled
        if cancelled:
            self._finish(batch_id, "CANCELLED", "Cancelled by request.")
        elif exit_code == 0:
            self._finish(batch_id, "SUCCEEDED", "")
        else:
            self._finish(batch_id, "FAILED", runner.summarize_failure(runner.read_tail(log_path), exit_code))

    def _fail_before_start(self, batch_id: str, message: str) -> None:
        # The driver log (runtimeInfo.outputUri) should explain every failure, even without a driver.
        log_path = self.store.log_path(batch_id)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "a", encoding="utf-8") as handle:
            handle.write(f"local dataproc: {message}\n")
        self._finish(batch_id, "FAILED", message)

    def _finish(self, batch_id: str, state: str, message: str) -> None:
        with self.store.lock:
            record = self.store.records.get(batch_id)
            # stop() may already have recorded why the run ended.
            if record is None or record["batch"]["state"] in TERMINAL:
                return
            _set_state(record, state, message)
            self.store.save(batch_id)
        log_fn = log.info if state == "SUCCEEDED" else log.warning
        log_fn("batch finished", batch_id=batch_id, state=state, state_message=message)


def _emulator_storage_client(project: str):
    from obt.clients import storage_client

    return storage_client(project or "local")


def _terminate(proc: subprocess.Popen) -> None:
    """Stop spark-submit's whole process group (JVM and Python workers), politely first."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stop_orphan(pid: int | None, batch_id: str) -> None:
    """Stop a driver left running by a crashed endpoint, only if its command line proves it is ours."""
    if not pid:
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if f"{runner.BATCH_ID_PROPERTY}={batch_id}".encode() not in cmdline:
        return
    try:
        os.killpg(pid, signal.SIGKILL)
        log.warning("orphaned driver stopped", batch_id=batch_id, pid=pid)
    except (ProcessLookupError, PermissionError):
        pass


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"{name} must be an integer, got {raw!r}") from None


def _decode_token(token: str) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"invalid pageToken {token!r}") from None


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


def make_handler(service: DataprocService) -> type[BaseHTTPRequestHandler]:
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
                self._reply(exc.http_status, exc.body())
            except Exception as exc:  # noqa: BLE001 - the client must get an answer, not a dropped socket
                log.error("request failed", exc_info=True, method=method, path=parts.path)
                self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, ApiError("INTERNAL", str(exc)).body())

        def _call(self, action: str, groups: tuple[str, ...], query: Mapping[str, str], body: Any) -> dict:
            if action == "healthz":
                return {"status": "ok"}
            if action == "create":
                if not isinstance(body, dict):
                    raise ApiError("INVALID_ARGUMENT", "the request body must be a Batch JSON object")
                return service.create_batch(*groups, query.get("batchId", ""), query.get("requestId", ""), body)
            handlers = {
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
            log.debug("http", request=format % args)

    return Handler


class DataprocServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, service: DataprocService) -> None:
        super().__init__((host, port), make_handler(service))
        self.service = service

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self) -> None:
        self.service.start()
        log.info("local dataproc endpoint listening", url=self.url, state_dir=str(self.service.store.root))
        self.serve_forever()

    def close(self) -> None:
        """Stop serving (from another thread than ``serve``), then stop the drivers."""
        self.shutdown()
        self.server_close()
        self.service.stop()
