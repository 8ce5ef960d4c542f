"""The local Dataproc endpoint's use cases: create, get, list, delete batches and their operations; no HTTP.

Semantics kept from GCP:

- The create operation completes when the batch does, so ``create_batch(...).result()`` waits for the
  run; callers that must not block (``on_raw_landed``) just drop the returned operation. SUCCEEDED and
  CANCELLED end with the Batch as ``response``; FAILED ends with ``error`` (code 2, UNKNOWN, and the
  batch's state message), so ``result()`` raises ``google.api_core.exceptions.Unknown``.
- A reused batch id is ``ALREADY_EXISTS`` (HTTP 409). Over REST the client raises
  ``google.api_core.exceptions.Conflict`` (it maps by HTTP status; ``AlreadyExists`` is a *subclass* of
  ``Conflict``, so catch ``Conflict``). The same ``requestId`` for the same batch id is an idempotent
  retry and returns the original operation instead.
- Batch ids are 4-63 characters of ``[a-z0-9-]``; a missing id gets a generated one.
- DeleteBatch removes finished batches only (``FAILED_PRECONDITION`` otherwise).
- Cancel with ``client.cancel_operation(request={"name": op.operation.name})``: ``op.cancel()`` fails
  inside google-api-core's REST operations transport (``KeyError: 'body'``) against GCP as well.

Local differences: batch ids are unique across the whole endpoint (not per project/region); one batch
runs at a time by default (a queue of ``max_concurrent`` workers); only ``pysparkBatch`` runs. See ``runner`` for
the gs:// split and ``store`` for the state folder. On start, PENDING batches are queued again and batches that were
RUNNING become FAILED, their driver stopped.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import subprocess
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from obt.log import get_logger
from obt_tools.local.dataproc import runner
from obt_tools.local.dataproc.store import (
    TERMINAL,
    BatchStore,
    FilterError,
    batch_id_of,
    json_copy,
    now_rfc3339,
    parse_filter,
    set_state,
)

log = get_logger(__name__)

BATCH_TYPE = "type.googleapis.com/google.cloud.dataproc.v1.Batch"
METADATA_TYPE = "type.googleapis.com/google.cloud.dataproc.v1.BatchOperationMetadata"
# google.rpc.Code.UNKNOWN, what Dataproc puts in a failed batch's operation error.
_UNKNOWN = 2
_BATCH_ID = re.compile(r"^[a-z0-9][a-z0-9-]{2,61}[a-z0-9]$")
ENDPOINT_STOPPED = "The local Dataproc endpoint stopped while the batch was running; its driver was stopped."


class ApiError(Exception):
    """A request the API refuses, with Google's canonical status (``NOT_FOUND``...); the HTTP layer maps it."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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
                    if runner.stop_orphan(record.get("driver_pid"), batch_id):
                        log.warning("orphaned driver stopped", batch_id=batch_id, pid=record["driver_pid"])
                    set_state(record, "FAILED", ENDPOINT_STOPPED)
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
                    set_state(record, "FAILED", ENDPOINT_STOPPED)
                    self.store.save(batch_id)
        for batch_id, proc in running:
            runner.stop_driver(proc)
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
                    return _operation(existing)
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
            set_state(record, "PENDING")
            self.store.add(batch_id, record)
        log.info(
            "batch created and queued",
            batch_id=batch_id,
            main=body["pysparkBatch"]["mainPythonFileUri"],
            dropped_properties=plan.dropped_properties,
            queued=self._queue.qsize() + 1,
        )
        self._queue.put(batch_id)
        return _operation(record)

    def get_batch(self, project: str, location: str, batch_id: str) -> dict:
        with self.store.lock:
            return json_copy(self._record(project, location, batch_id)["batch"])

    def list_batches(self, project: str, location: str, query: Mapping[str, str]) -> dict:
        try:
            clauses = parse_filter(query.get("filter", ""))
        except FilterError as exc:
            raise ApiError("INVALID_ARGUMENT", str(exc)) from None
        order = query.get("orderBy", "create_time desc").strip().lower() or "create_time desc"
        if order not in ("create_time", "create_time asc", "create_time desc"):
            raise ApiError("INVALID_ARGUMENT", f"unsupported orderBy {order!r}: use create_time [asc|desc]")
        page_size = _int_param(query, "pageSize", 100)
        page_size = 100 if page_size <= 0 else min(page_size, 1000)
        offset = _decode_token(query.get("pageToken", ""))
        with self.store.lock:
            batches = self.store.batches(f"projects/{project}/locations/{location}/batches/", clauses)
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
            return _operation(self._record_for_operation(project, region, operation_id))

    def list_operations(self, project: str, region: str) -> dict:
        with self.store.lock:
            ops = [
                _operation(r)
                for r in self.store.records.values()
                if r["batch"]["operation"].startswith(f"projects/{project}/regions/{region}/")
            ]
        ops.sort(key=lambda op: op["metadata"]["createTime"], reverse=True)
        return {"operations": ops}

    def cancel_operation(self, project: str, region: str, operation_id: str) -> dict:
        with self.store.lock:
            record = self._record_for_operation(project, region, operation_id)
            batch_id = batch_id_of(record["batch"])
            state = record["batch"]["state"]
            if state in TERMINAL or state == "CANCELLING":
                return {}
            self._cancelled.add(batch_id)
            proc = self._procs.get(batch_id)
            if proc is None:
                # Not started yet: the worker skips it when it comes off the queue.
                set_state(record, "CANCELLED", "Cancelled before it started.")
            else:
                set_state(record, "CANCELLING")
            self.store.save(batch_id)
        log.info("batch cancel requested", batch_id=batch_id, previous_state=state)
        if proc is not None:
            # The worker records CANCELLED once the driver has exited; the request need not wait for that.
            threading.Thread(target=runner.stop_driver, args=(proc,), daemon=True).start()
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
        name = f"projects/{project}/locations/{location}/batches/{batch_id}"
        record = self.store.by_name(name)
        if record is None:
            raise ApiError("NOT_FOUND", f"Not found: Batch {name}")
        return record

    def _record_for_operation(self, project: str, region: str, operation_id: str) -> dict[str, Any]:
        name = f"projects/{project}/regions/{region}/operations/{operation_id}"
        record = self.store.by_operation(name)
        if record is None:
            raise ApiError("NOT_FOUND", f"Not found: Operation {name}")
        return record

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
            body = json_copy(record["batch"])
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
            with self.store.lock:  # create_batch's lock: no batch appears between listing what is in use and pruning
                mirror = self.store.mirror.resolve()
                unfinished = [r["batch"] for r in self.store.records.values() if r["batch"]["state"] not in TERMINAL]
                runner.prune_generations(plan, set().union(*(runner.pinned_files(b, mirror) for b in unfinished)), log)
            if skipped:
                log.info("gs:// arguments without an object treated as outputs", batch_id=batch_id, uris=skipped)
        log_path = self.store.log_path(batch_id)
        with self.store.lock:
            if batch_id in self._cancelled or self._stopping:
                return
            proc = runner.start_driver(plan, log_path, self.env)
            self._procs[batch_id] = proc
            record["driver_pid"] = proc.pid
            set_state(record, "RUNNING")
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
            set_state(record, state, message)
            self.store.save(batch_id)
        log_fn = log.info if state == "SUCCEEDED" else log.warning
        log_fn("batch finished", batch_id=batch_id, state=state, state_message=message)


def _operation(record: Mapping[str, Any]) -> dict[str, Any]:
    """The create operation of a record's batch, done once the batch is terminal (see the module docstring)."""
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
            operation["error"] = {"code": _UNKNOWN, "message": message}
        else:
            operation["response"] = {"@type": BATCH_TYPE, **json_copy(batch)}
    return operation


def _emulator_storage_client(project: str):
    from obt.clients import storage_client

    return storage_client(project or "local")


def _int_param(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name, "")
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"{name} must be an integer, got {raw!r}") from None


def _decode_token(token: str) -> int:
    # A page token is the base64 of the next offset: listings are recomputed per request, nothing is cached.
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError:
        raise ApiError("INVALID_ARGUMENT", f"invalid pageToken {token!r}") from None
