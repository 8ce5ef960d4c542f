"""Exactly once under real faults: a build reads exactly the inputs its id names, or fails saying which one moved.

Real parts: the session's storage emulator (fake-gcs-server: an overwrite mints a new generation and, the local
buckets keeping no old versions, the old one is gone) and the local Dataproc endpoint with real spark-submit
drivers, reached through the production client. The driver is a tiny script (no Spark session) that reads its
input where the real job does under the local mirror (``layout.mirror_name``). The job's Dataproc-side check
(``obt_job.inputs``) runs against the same emulator's JSON API, without Spark: Spark cannot read ``gs://`` here.

- Overwritten while its batch is queued: the endpoint never starts the driver; the batch fails naming the input
  and the generation that is gone.
- Overwritten while its driver runs, and a build of the new generation staged beside it: each driver reads the
  generation it was pinned to.
- On Dataproc (live reads): overwritten before the first read stops the job before it reads; overwritten between
  the first and the last read fails the build naming both generations; untouched, the manifest records exactly
  the generation, size and crc32c the storage reports.
"""

from __future__ import annotations

import re
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.cloud import dataproc_v1

from obt.clients import storage_client
from obt_contract.layout import input_gone, pinned_uri
from obt_tools.local.dataproc import DataprocService
from tests.local_dataproc.conftest import PARENT, client_for, serving
from tests.spark_jobs import conftest as _job_package  # noqa: F401 - puts the job's package on sys.path

pytestmark = pytest.mark.slow
State = dataproc_v1.Batch.State

# Reads the pinned input where the job would, once the test says go (so the test can overwrite it first).
READER = textwrap.dedent(
    """
    import pathlib, sys, time
    from obt_contract.layout import mirror_name

    args = sys.argv[1:]
    pinned, mirror, go = (args[args.index(flag) + 1] for flag in ("--movie-reviews", "--mirror", "--go"))
    print("DRIVER-WAITING", flush=True)
    while not pathlib.Path(go).exists():
        time.sleep(0.1)
    print("DRIVER-READ", pathlib.Path(mirror, mirror_name(pinned)).read_text(), flush=True)
    """
)


def _upload(bucket: str, name: str, text: str, project: str) -> int:
    blob = storage_client(project).bucket(bucket).blob(name)
    blob.upload_from_string(text)
    return blob.generation


def _wait(client, name: str, until) -> dataproc_v1.Batch:
    # GetBatch polling; the test timeout bounds it.
    while not until(batch := client.get_batch(name=name)):
        time.sleep(0.2)
    return batch


def _ended(batch: dataproc_v1.Batch) -> bool:
    return batch.state in (State.SUCCEEDED, State.FAILED, State.CANCELLED)


def _driver_log(batch: dataproc_v1.Batch) -> str:
    path = Path(batch.runtime_info.output_uri.removeprefix("file://"))
    return path.read_text() if path.exists() else ""


@pytest.fixture
def reviews(gcs_emulator) -> tuple[str, str]:
    """A vendor file's (bucket, name), unique to the test; in the curated bucket, whose uploads trigger nothing."""
    return gcs_emulator.curated_bucket, f"pinned-inputs/{uuid.uuid4().hex[:8]}/movie_review.csv"


@pytest.fixture
def reader_job(tmp_path: Path) -> Path:
    script = tmp_path / "reader.py"
    script.write_text(READER)
    return script


def _batch(job: Path, pinned: str, mirror: Path, go: Path) -> dataproc_v1.Batch:
    args = ["--movie-reviews", pinned, "--mirror", str(mirror), "--go", str(go)]
    return dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=job.as_uri(), args=args))


def test_a_vendor_file_overwritten_while_its_batch_is_queued_fails_it_before_the_driver_starts(
    tmp_path, gcs_emulator, reviews, reader_job
):
    bucket, name = reviews
    planned = _upload(bucket, name, "version planned\n", gcs_emulator.project)
    pinned = pinned_uri(bucket, name, planned)
    service = DataprocService(tmp_path / "state", master="local[1]", driver_memory="512m")
    # The queue is not worked yet: the batch waits, as behind a long build.
    with serving(service, run_batches=False) as server:
        client = client_for(server)
        batch_name = f"{PARENT}/batches/pinned-queued-1"
        client.create_batch(
            parent=PARENT,
            batch=_batch(reader_job, pinned, service.store.mirror, tmp_path / "go"),
            batch_id="pinned-queued-1",
        )
        (tmp_path / "go").touch()  # the driver would not wait: it would read at once
        _upload(bucket, name, "version uploaded later\n", gcs_emulator.project)
        service.start()
        try:
            failed = _wait(client, batch_name, _ended)
        finally:
            service.stop()

    assert failed.state == State.FAILED
    assert failed.state_message == f"Could not stage inputs: {input_gone(pinned)}"
    assert failed.state_message.endswith(f"{name} generation {planned} is gone (overwritten or deleted)")
    assert [h.state for h in failed.state_history] == [State.PENDING]  # no driver ever ran
    assert "DRIVER" not in _driver_log(failed)
    assert not [path for path in service.store.mirror.rglob("*") if path.is_file()]


def test_builds_of_two_generations_of_one_file_running_side_by_side_each_read_their_own(
    tmp_path, gcs_emulator, reviews, reader_job
):
    """The file is overwritten while the first build's driver runs, and the second build, pinned to the new
    generation, is staged then: the first still reads the generation it was pinned to."""
    bucket, name = reviews
    go = tmp_path / "go"
    service = DataprocService(tmp_path / "state", max_concurrent=2, master="local[1]", driver_memory="512m")
    with serving(service) as server:
        client = client_for(server)
        read = {}
        for batch_id, text in (("pinned-first-1", "version planned"), ("pinned-second-1", "version uploaded later")):
            pinned = pinned_uri(bucket, name, _upload(bucket, name, f"{text}\n", gcs_emulator.project))
            read[batch_id] = (
                client.create_batch(
                    parent=PARENT, batch=_batch(reader_job, pinned, service.store.mirror, go), batch_id=batch_id
                ),
                text,
            )
            _wait(client, f"{PARENT}/batches/{batch_id}", lambda b: "DRIVER-WAITING" in _driver_log(b) or _ended(b))
        go.touch()
        done = {batch_id: (op.result(timeout=300), text) for batch_id, (op, text) in read.items()}

    for batch, text in done.values():
        assert batch.state == State.SUCCEEDED, batch.state_message
        assert [line for line in _driver_log(batch).splitlines() if "DRIVER-READ" in line] == [f"DRIVER-READ {text}"]


@pytest.fixture
def live_reads(monkeypatch, gcs_emulator) -> Iterator:
    """The job's Dataproc-side guard, reading live objects through the emulator's JSON API."""
    from obt_job import inputs
    from obt_job.paths import PathMap

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.url)
    yield lambda uris: inputs.InputGuard(uris, inputs.state_reader(PathMap()))


def test_on_dataproc_an_input_overwritten_before_the_first_read_stops_the_job_before_it_reads(
    gcs_emulator, reviews, live_reads
):
    from obt_job.inputs import InputGone

    bucket, name = reviews
    pinned = pinned_uri(bucket, name, _upload(bucket, name, "version planned\n", gcs_emulator.project))
    _upload(bucket, name, "version uploaded later\n", gcs_emulator.project)

    with pytest.raises(InputGone, match=f"^{re.escape(input_gone(pinned))}$"):
        live_reads([pinned]).pin()


def test_on_dataproc_an_input_overwritten_during_the_build_fails_it_and_untouched_ones_are_recorded(
    gcs_emulator, reviews, live_reads
):
    bucket, name = reviews
    project = gcs_emulator.project
    planned = _upload(bucket, name, "version planned\n", project)
    logs = f"{name.rsplit('/', 1)[0]}/log_reviews.csv"
    logs_generation = _upload(bucket, logs, "id_review,log\n", project)
    guard = live_reads([pinned_uri(bucket, name, planned), pinned_uri(bucket, logs, logs_generation)])

    guard.pin()  # before the first read
    later = _upload(bucket, name, "version uploaded later\n", project)
    problems = guard.changes()  # after the last read

    assert problems == [f"input gs://{bucket}/{name} changed while the build read it (generation {planned} → {later})"]
    stored = storage_client(project).bucket(bucket).get_blob(logs)
    assert guard.record(pinned_uri(bucket, logs, logs_generation)) == {
        "uri": f"gs://{bucket}/{logs}",
        "generation": logs_generation,
        "bytes": stored.size,
        "crc32c": stored.crc32c,
    }
