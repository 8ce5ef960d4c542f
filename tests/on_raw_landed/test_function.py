"""on_raw_landed served by functions-framework, fed golden-corpus events, against real local services:
the storage emulator (listing, manifests) and the local Dataproc endpoint (CreateBatch, ListBatches). Each
delivery's answer is (status, action) from the JSON body (``obt.responses``)."""

from __future__ import annotations

import gzip
import json
import logging
import socket
from pathlib import Path

import pytest
from functions_framework import create_app

from obt import clients
from obt.config import Settings
from obt.services import Services
from obt.trigger.batches import batch_parent
from obt.trigger.service import current_plan
from tests.events import corpus
from tests.on_raw_landed.builders import LOGS, MANIFEST, MOVIE, PARTS
from tests.on_raw_landed.stack import NOOP_JOB, scratch_bucket

pytestmark = pytest.mark.slow

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "on_raw_landed" / "main.py"


@pytest.fixture
def raw_bucket(monkeypatch, gcs_emulator, dataproc_endpoint, tmp_path) -> str:
    bucket = scratch_bucket(gcs_emulator.project, "raw")
    job = tmp_path / "noop_job.py"
    job.write_text(NOOP_JOB)
    monkeypatch.setenv("OBT_RAW_BUCKET", bucket)
    monkeypatch.setenv("OBT_DATAPROC_ENDPOINT", dataproc_endpoint)
    monkeypatch.setenv("OBT_JOB_MAIN_URI", f"file://{job}")
    monkeypatch.setenv("OBT_SPARK_PROPERTIES", json.dumps({"spark.driver.memory": "512m"}))
    return bucket


def _function():
    # The settings it reads are the environment the fixture prepared (tests/conftest.py resets them per test).
    return create_app(target="on_raw_landed", source=str(SOURCE)).test_client()


def _upload(bucket: str, name: str, payload: bytes):
    blob = clients.storage_client(Settings.project).bucket(bucket).blob(name)
    blob.upload_from_string(payload)
    blob.reload()
    return blob


def _deliver(client, blob, mode: str, **kwargs) -> tuple[int, str]:
    event = corpus.storage_finalized(
        blob.name, bucket=blob.bucket.name, generation=blob.generation, size=blob.size, mode=mode, **kwargs
    )
    response = event.post(client)
    return response.status_code, response.get_json()["action"]


def _actions(caplog) -> list[str]:
    return [
        r.fields["action"]
        for r in caplog.records
        if r.name == "obt.trigger.service" and "action" in getattr(r, "fields", {}) and "object" in r.fields
    ]


def _upload_snapshot(bucket: str):
    sizes = []
    for index, name in enumerate(PARTS):
        payload = gzip.compress(f"invoice_number,quantity\n{index},1\n".encode())
        sizes.append(_upload(bucket, name, payload).size)
    document = {
        "kind": "snapshot",
        "table": "user_purchase",
        "run_id": "r1",
        "ingest_date": "2026-11-23",
        "parts": [
            {"name": n, "uri": f"gs://{bucket}/{n}", "rows": 1, "bytes": s} for n, s in zip(PARTS, sizes, strict=True)
        ],
    }
    return _upload(bucket, MANIFEST, json.dumps(document).encode())


@pytest.mark.parametrize("mode", corpus.MODES)
def test_out_of_order_arrivals_and_a_thrice_delivered_event_submit_one_batch(raw_bucket, mode, caplog):
    client = _function()
    with caplog.at_level(logging.INFO):
        movie = _upload(raw_bucket, MOVIE, b"cid,review_str,id_review\n1,good,1\n")
        assert _deliver(client, movie, mode) == (200, "waiting")
        manifest = _upload_snapshot(raw_bucket)
        assert _deliver(client, manifest, mode) == (200, "waiting")
        logs = _upload(raw_bucket, LOGS, b"id_review,log\n1,<reviewlog/>\n")
        answers = [_deliver(client, logs, mode, event_id="same-event-id") for _ in range(3)]
    assert answers == [(200, "submitted"), (200, "duplicate"), (200, "duplicate")]
    assert _actions(caplog) == ["waiting", "waiting", "submitted", "duplicate", "duplicate"]

    settings = Settings.from_env()
    plan = current_plan(settings, Services.from_settings(settings))
    build_id = plan.build.build_id
    request = {"parent": batch_parent(settings), "filter": f"batch_id = {build_id}"}
    batches = list(clients.batches(settings).list_batches(request=request))
    assert len(batches) == 1
    batch = batches[0]
    args = list(batch.pyspark_batch.args)
    assert args[:2] == ["--build-id", build_id]
    generations = {obj.name: obj.generation for obj in plan.build.inputs}
    for name in (MANIFEST, *PARTS, MOVIE, LOGS):
        assert f"gs://{raw_bucket}/{name}#{generations[name]}" in args
    assert batch.pyspark_batch.main_python_file_uri == settings.job_main_uri
    assert batch.runtime_config.properties["spark.driver.memory"] == "512m"
    assert batch.labels["input-watermark"] == str(plan.build.input_watermark)


@pytest.mark.parametrize("mode", corpus.MODES)
def test_zero_byte_unknown_and_malformed_events_are_acknowledged_without_a_batch(raw_bucket, mode, caplog):
    client = _function()
    empty = _upload(raw_bucket, MOVIE, b"")
    other = _upload(raw_bucket, "movie_review/ingest_date=2026-11-23/README.md", b"hello")
    with caplog.at_level(logging.INFO):
        assert _deliver(client, empty, mode) == (200, "ignored")
        assert _deliver(client, other, mode) == (200, "ignored")
        assert _deliver(client, other, mode, data_overrides={"generation": "not-a-number"}) == (200, "rejected")
        assert _deliver(client, other, mode, attribute_overrides={"subject": "objects/else"}) == (200, "rejected")
    assert _actions(caplog) == ["ignored", "ignored"]
    rejected = [r for r in caplog.records if getattr(r, "fields", {}).get("action") == "rejected"]
    assert len(rejected) == 2 and all(r.levelno == logging.ERROR for r in rejected)


def test_unreachable_dataproc_fails_the_request_so_eventarc_retries(raw_bucket, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    monkeypatch.setenv("OBT_DATAPROC_ENDPOINT", f"http://127.0.0.1:{closed}")
    _upload(raw_bucket, MOVIE, b"cid,review_str,id_review\n1,good,1\n")
    _upload_snapshot(raw_bucket)
    logs = _upload(raw_bucket, LOGS, b"id_review,log\n1,<reviewlog/>\n")
    assert _deliver(_function(), logs, "binary") == (503, "retry")
