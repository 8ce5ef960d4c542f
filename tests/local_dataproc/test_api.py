"""The REST API through the real google-cloud-dataproc client, without running Spark (the queue is idle)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.request

import pytest
from google.api_core import exceptions
from google.cloud import dataproc_v1

from obt_tools.local.dataproc import DataprocService
from obt_tools.local.dataproc.service import ENDPOINT_STOPPED
from tests.local_dataproc.conftest import PARENT, client_for, serving

State = dataproc_v1.Batch.State


def _batch(main: str = "file:///jobs/main.py", **properties: str) -> dataproc_v1.Batch:
    return dataproc_v1.Batch(
        pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=main, args=["--output", "gs://bucket"]),
        runtime_config=dataproc_v1.RuntimeConfig(properties=properties),
        labels={"team": "obt"},
    )


def test_create_returns_an_operation_tracking_the_pending_batch(idle_endpoint):
    server, state_dir = idle_endpoint
    client = client_for(server)

    op = client.create_batch(parent=PARENT, batch=_batch(), batch_id="api-create-1")

    assert op.operation.name.startswith("projects/obt-local/regions/us-central1/operations/")
    assert op.done() is False
    assert op.metadata.batch == f"{PARENT}/batches/api-create-1"
    assert op.metadata.operation_type == dataproc_v1.BatchOperationMetadata.BatchOperationType.BATCH
    batch = client.get_batch(name=f"{PARENT}/batches/api-create-1")
    assert batch.state == State.PENDING
    assert batch.uuid == op.metadata.batch_uuid
    assert batch.labels["team"] == "obt"
    assert batch.runtime_info.output_uri.endswith("/dataproc/batches/api-create-1/driver.log")
    record = json.loads((state_dir / "dataproc" / "batches" / "api-create-1.json").read_text())
    assert record["batch"]["state"] == "PENDING"


def test_reused_batch_id_is_already_exists_raised_as_conflict(idle_endpoint):
    server, _ = idle_endpoint
    client = client_for(server)
    client.create_batch(parent=PARENT, batch=_batch(), batch_id="api-dup-1")

    with pytest.raises(exceptions.Conflict) as caught:
        client.create_batch(parent=PARENT, batch=_batch(), batch_id="api-dup-1")

    assert caught.value.code == 409
    assert "already exists" in caught.value.message


def test_same_request_id_is_an_idempotent_retry(idle_endpoint):
    server, _ = idle_endpoint
    client = client_for(server)
    request = dataproc_v1.CreateBatchRequest(
        parent=PARENT, batch=_batch(), batch_id="api-retry-1", request_id="req-123"
    )

    first = client.create_batch(request=request)
    second = client.create_batch(request=request)

    assert first.operation.name == second.operation.name


def test_bad_batches_are_rejected_with_invalid_argument(idle_endpoint):
    server, _ = idle_endpoint
    client = client_for(server)

    with pytest.raises(exceptions.BadRequest, match="4-63 characters"):
        client.create_batch(parent=PARENT, batch=_batch(), batch_id="Bad_Id")
    with pytest.raises(exceptions.BadRequest, match="only pysparkBatch"):
        client.create_batch(
            parent=PARENT,
            batch=dataproc_v1.Batch(spark_batch=dataproc_v1.SparkBatch(main_class="Main")),
            batch_id="api-spark-1",
        )
    with pytest.raises(exceptions.BadRequest, match="unsupported URI"):
        client.create_batch(parent=PARENT, batch=_batch(main="http://x/main.py"), batch_id="api-http-1")
    with pytest.raises(exceptions.NotFound):
        client.get_batch(name=f"{PARENT}/batches/api-create-1")


def test_list_is_newest_first_with_pages_and_filters(idle_endpoint):
    server, _ = idle_endpoint
    client = client_for(server)
    for n in range(3):
        client.create_batch(parent=PARENT, batch=_batch(), batch_id=f"api-list-{n}")
    client.create_batch(parent="projects/obt-local/locations/europe-west1", batch=_batch(), batch_id="api-list-eu")

    pager = client.list_batches(request={"parent": PARENT, "page_size": 2})
    pages = [[b.name.rsplit("/", 1)[-1] for b in page.batches] for page in pager.pages]
    by_id = list(client.list_batches(request={"parent": PARENT, "filter": 'batch_id = "api-list-1"'}))
    pending = list(client.list_batches(request={"parent": PARENT, "filter": "state = PENDING AND labels.team = obt"}))

    assert pages == [["api-list-2", "api-list-1"], ["api-list-0"]]
    assert [b.name.rsplit("/", 1)[-1] for b in by_id] == ["api-list-1"]
    assert len(pending) == 3
    with pytest.raises(exceptions.BadRequest, match="unsupported filter"):
        list(client.list_batches(request={"parent": PARENT, "filter": "runtime = 2"}))


def test_cancel_a_pending_batch_then_delete_it(idle_endpoint):
    server, state_dir = idle_endpoint
    client = client_for(server)
    op = client.create_batch(parent=PARENT, batch=_batch(), batch_id="api-cancel-1")
    name = f"{PARENT}/batches/api-cancel-1"
    with pytest.raises(exceptions.BadRequest, match="only finished batches"):
        client.delete_batch(name=name)

    # op.cancel() cannot work over REST in google-api-core: its operations transport requires a request body
    # that Dataproc's cancel binding does not declare (KeyError: 'body'). The client's mixin works.
    client.cancel_operation(request={"name": op.operation.name})

    batch = op.result(timeout=30)
    assert batch.state == State.CANCELLED
    assert [h.state for h in batch.state_history] == [State.PENDING]
    client.delete_batch(name=name)
    with pytest.raises(exceptions.NotFound):
        client.get_batch(name=name)
    assert not (state_dir / "dataproc" / "batches" / "api-cancel-1.json").exists()


def test_restart_fails_batches_that_were_running_and_keeps_pending_ones(tmp_path):
    with serving(DataprocService(tmp_path), run_batches=False) as server:
        client = client_for(server)
        client.create_batch(parent=PARENT, batch=_batch(), batch_id="api-was-running")
        client.create_batch(parent=PARENT, batch=_batch(), batch_id="api-was-pending")
    # Simulate an endpoint killed while its driver ran (pid 0: no process to stop).
    path = tmp_path / "dataproc" / "batches" / "api-was-running.json"
    record = json.loads(path.read_text())
    record["batch"]["state"] = "RUNNING"
    path.write_text(json.dumps(record))

    with serving(DataprocService(tmp_path), run_batches=False) as server:
        client = client_for(server)
        crashed = client.get_batch(name=f"{PARENT}/batches/api-was-running")
        pending = client.get_batch(name=f"{PARENT}/batches/api-was-pending")
        failed_op = client.get_operation(request={"name": crashed.operation})

    assert crashed.state == State.FAILED
    assert crashed.state_message == ENDPOINT_STOPPED
    assert pending.state == State.PENDING
    assert failed_op.done and failed_op.error.message == ENDPOINT_STOPPED


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_module_serves_until_sigterm(tmp_path):
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "obt_tools.local.dataproc", "--port", str(port), "--state-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        ready = proc.stdout.readline()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            health = json.load(response)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    assert "listening" in ready
    assert health == {"status": "ok"}
    assert proc.returncode == 0


def test_module_reports_a_port_in_use_in_one_line(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "obt_tools.local.dataproc", "--port", str(port), "--state-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_module_reports_an_unusable_state_folder_in_one_line(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")

    result = subprocess.run(
        [sys.executable, "-m", "obt_tools.local.dataproc", "--port", "0", "--state-dir", str(not_a_folder)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert f"cannot use state folder {not_a_folder}" in result.stderr
