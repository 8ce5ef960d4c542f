"""Real PySpark batches through the real client: gs:// staging, SUCCEEDED, FAILED with its driver log."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
import uuid
from pathlib import Path

import pytest
from google.api_core import exceptions
from google.cloud import dataproc_v1

from obt.clients import storage_client
from obt_tools.local.dataproc import DataprocService
from obt_tools.local.dataproc.service import ENDPOINT_STOPPED
from tests.local_dataproc.conftest import PARENT, client_for, serving

pytestmark = pytest.mark.slow
State = dataproc_v1.Batch.State

# Reads its input from the mirror the endpoint staged, as build_obt.py does under spark.obt.localGcsMirror.
JOB = textwrap.dedent(
    """
    import os, sys
    from pyspark.sql import SparkSession
    import dp_marker

    args = sys.argv[1:]
    spark = SparkSession.builder.appName("local-dataproc-test").getOrCreate()
    mirror = spark.conf.get("spark.obt.localGcsMirror")
    source = args[args.index("--input") + 1]
    rows = spark.read.text(os.path.join(mirror, source[len("gs://"):])).count()
    print(dp_marker.MARK, rows, flush=True)
    spark.stop()
    if rows != 3:
        sys.exit(f"expected 3 rows, read {rows}")
    """
)


def _upload(bucket: str, name: str, data: str, project: str) -> str:
    storage_client(project).bucket(bucket).blob(name).upload_from_string(data)
    return f"gs://{bucket}/{name}"


def _wait_terminal(client, name: str) -> dataproc_v1.Batch:
    # GetBatch polling, as reconcile does; the test timeout bounds it.
    while True:
        batch = client.get_batch(name=name)
        if batch.state in (State.SUCCEEDED, State.FAILED, State.CANCELLED):
            return batch
        time.sleep(1)


def test_pyspark_batch_from_gs_runs_to_succeeded_with_inputs_mirrored(running_endpoint, gcs_emulator):
    server, state_dir = running_endpoint
    client = client_for(server)
    bucket, prefix = gcs_emulator.curated_bucket, f"dataproc-test/{uuid.uuid4().hex[:8]}"
    main = _upload(bucket, f"{prefix}/job.py", JOB, gcs_emulator.project)
    helper = _upload(bucket, f"{prefix}/dp_marker.py", "MARK = 'ROWS-READ'\n", gcs_emulator.project)
    source = _upload(bucket, f"{prefix}/input.txt", "a\nb\nc\n", gcs_emulator.project)
    batch = dataproc_v1.Batch(
        pyspark_batch=dataproc_v1.PySparkBatch(
            main_python_file_uri=main,
            python_file_uris=[helper],
            args=["--input", source, "--output", f"gs://{bucket}", "--report", f"gs://{bucket}/{prefix}/out.json"],
        ),
        runtime_config=dataproc_v1.RuntimeConfig(
            properties={"spark.dataproc.driver.disk.size": "250g", "spark.sql.shuffle.partitions": "1"}
        ),
    )

    op = client.create_batch(parent=PARENT, batch=batch, batch_id="spark-ok-1")
    with pytest.raises(exceptions.Conflict):
        client.create_batch(parent=PARENT, batch=batch, batch_id="spark-ok-1")
    done = op.result(timeout=600)

    mirror = state_dir / "dataproc" / "mirror" / bucket / prefix
    driver_log = Path(done.runtime_info.output_uri.removeprefix("file://")).read_text()
    assert done.state == State.SUCCEEDED, done.state_message
    assert [h.state for h in done.state_history] == [State.PENDING, State.RUNNING]
    assert "ROWS-READ 3" in driver_log
    assert (mirror / "input.txt").read_text() == "a\nb\nc\n"
    assert not (mirror / "out.json").exists()
    listed = [b.name for b in client.list_batches(parent=PARENT)]
    assert f"{PARENT}/batches/spark-ok-1" in listed


def test_failing_script_ends_failed_with_its_error_and_driver_log(running_endpoint, tmp_path):
    server, _ = running_endpoint
    client = client_for(server)
    script = tmp_path / "fails.py"
    # No SparkSession: the failure path needs only spark-submit's JVM and the Python driver.
    script.write_text("raise ValueError('deliberate failure 42')\n")
    batch = dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=script.as_uri()))

    op = client.create_batch(parent=PARENT, batch=batch, batch_id="spark-fail-1")
    failed = _wait_terminal(client, f"{PARENT}/batches/spark-fail-1")

    assert failed.state == State.FAILED
    assert failed.state_message == "Driver exited with code 1: ValueError: deliberate failure 42"
    driver_log = Path(failed.runtime_info.output_uri.removeprefix("file://")).read_text()
    assert "Traceback (most recent call last)" in driver_log
    with pytest.raises(exceptions.GoogleAPICallError, match="deliberate failure 42"):
        op.result(timeout=60)


SLEEPER = "import time\nprint('driver-sleeping', flush=True)\ntime.sleep(600)\n"


def _live_group_members(pgid: int) -> list[int]:
    """Processes still in a process group (zombies left for init to reap do not count)."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(stat.parent.name))
    return members


def _wait_driver_running(client, name: str) -> dataproc_v1.Batch:
    while True:
        batch = client.get_batch(name=name)
        log = Path(batch.runtime_info.output_uri.removeprefix("file://"))
        if batch.state == State.RUNNING and log.exists() and "driver-sleeping" in log.read_text():
            return batch
        assert batch.state in (State.PENDING, State.RUNNING), batch.state_message
        time.sleep(0.5)


def test_cancelling_a_running_batch_stops_its_whole_driver(running_endpoint, tmp_path):
    server, state_dir = running_endpoint
    client = client_for(server)
    script = tmp_path / "sleeps.py"
    script.write_text(SLEEPER)
    op = client.create_batch(
        parent=PARENT,
        batch=dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=script.as_uri())),
        batch_id="spark-cancel-1",
    )
    _wait_driver_running(client, f"{PARENT}/batches/spark-cancel-1")
    pid = json.loads((state_dir / "dataproc" / "batches" / "spark-cancel-1.json").read_text())["driver_pid"]

    client.cancel_operation(request={"name": op.operation.name})
    cancelled = op.result(timeout=120)

    assert cancelled.state == State.CANCELLED
    assert [h.state for h in cancelled.state_history] == [State.PENDING, State.RUNNING, State.CANCELLING]
    assert _live_group_members(pid) == []


def test_a_driver_killed_by_a_signal_fails_its_batch_saying_so(running_endpoint, tmp_path):
    server, state_dir = running_endpoint
    client = client_for(server)
    script = tmp_path / "sleeps.py"
    script.write_text(SLEEPER)
    client.create_batch(
        parent=PARENT,
        batch=dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=script.as_uri())),
        batch_id="spark-killed-1",
    )
    _wait_driver_running(client, f"{PARENT}/batches/spark-killed-1")
    pid = json.loads((state_dir / "dataproc" / "batches" / "spark-killed-1.json").read_text())["driver_pid"]

    os.killpg(pid, signal.SIGKILL)  # as the OOM killer or an operator's kill -9 would
    failed = _wait_terminal(client, f"{PARENT}/batches/spark-killed-1")

    assert failed.state == State.FAILED
    assert failed.state_message == "Driver killed by signal 9 (SIGKILL)"
    assert _live_group_members(pid) == []


def test_stopping_the_endpoint_fails_the_running_batch_and_leaves_no_process(tmp_path):
    script = tmp_path / "sleeps.py"
    script.write_text(SLEEPER)
    with serving(DataprocService(tmp_path / "state", master="local[1]", driver_memory="512m")) as server:
        client = client_for(server)
        client.create_batch(
            parent=PARENT,
            batch=dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=script.as_uri())),
            batch_id="spark-stop-1",
        )
        _wait_driver_running(client, f"{PARENT}/batches/spark-stop-1")
    record = json.loads((tmp_path / "state" / "dataproc" / "batches" / "spark-stop-1.json").read_text())

    assert record["batch"]["state"] == "FAILED"
    assert record["batch"]["stateMessage"] == ENDPOINT_STOPPED
    assert _live_group_members(record["driver_pid"]) == []


def test_gs_uris_without_a_storage_emulator_fail_without_touching_cloud_storage(tmp_path):
    with serving(DataprocService(tmp_path, env={})) as server:
        client = client_for(server)
        client.create_batch(
            parent=PARENT,
            batch=dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri="gs://b/main.py")),
            batch_id="no-emulator-1",
        )
        failed = _wait_terminal(client, f"{PARENT}/batches/no-emulator-1")

    assert failed.state == State.FAILED
    assert "STORAGE_EMULATOR_HOST" in failed.state_message
    assert "STORAGE_EMULATOR_HOST" in Path(failed.runtime_info.output_uri.removeprefix("file://")).read_text()


def test_a_missing_gs_main_file_fails_staging_clearly(running_endpoint, gcs_emulator):
    server, _ = running_endpoint
    client = client_for(server)
    missing = f"gs://{gcs_emulator.curated_bucket}/dataproc-test/{uuid.uuid4().hex[:8]}/absent.py"
    client.create_batch(
        parent=PARENT,
        batch=dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=missing)),
        batch_id="missing-main-1",
    )

    failed = _wait_terminal(client, f"{PARENT}/batches/missing-main-1")

    assert failed.state == State.FAILED
    assert failed.state_message == f"Could not stage inputs: {missing} does not exist"
