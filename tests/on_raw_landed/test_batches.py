"""The CreateBatch request built from Settings, and how Dataproc's answers map to outcomes."""

from __future__ import annotations

import json

import pytest
import requests
from google.api_core import exceptions as gexc

from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.trigger import batches
from obt.trigger.planner import plan_build
from tests.on_raw_landed.builders import LOGS, MOVIE, RawBucket

SETTINGS = Settings(
    project="proj",
    region="europe-west1",
    raw_bucket="raw",
    curated_bucket="cur",
    dataproc_runtime_version="3.0",
    dataproc_service_account="spark@proj.iam.gserviceaccount.com",
    dataproc_subnetwork="projects/proj/regions/europe-west1/subnetworks/dataproc",
    spark_properties={"spark.driver.memory": "8g", "spark.executor.memory": "8g", "spark.executor.cores": "4"},
    job_main_uri="gs://artifacts/jobs/build_obt.py",
    job_py_files=("gs://artifacts/jobs/obt_job_deps.zip",),
    dq_max_quarantine_share=0.25,
)


def _plan():
    bucket = RawBucket()
    bucket.put_snapshot()
    bucket.put(MOVIE)
    bucket.put(LOGS)
    return plan_build(bucket.listing(), bucket.read_manifest).build


def test_request_carries_every_setting_and_the_build_id():
    plan = _plan()
    request = batches.batch_request(plan, SETTINGS)
    batch = request["batch"]
    assert request["parent"] == "projects/proj/locations/europe-west1"
    assert request["batch_id"] == plan.build_id
    assert batch.pyspark_batch.main_python_file_uri == "gs://artifacts/jobs/build_obt.py"
    assert list(batch.pyspark_batch.python_file_uris) == ["gs://artifacts/jobs/obt_job_deps.zip"]
    topic = "projects/proj/topics/obt-build-complete"
    assert list(batch.pyspark_batch.args) == plan.job_args("raw", "cur", topic, 0.25)
    assert batch.runtime_config.version == "3.0"
    assert dict(batch.runtime_config.properties) == SETTINGS.spark_properties
    execution = batch.environment_config.execution_config
    assert execution.service_account == SETTINGS.dataproc_service_account
    assert execution.subnetwork_uri == SETTINGS.dataproc_subnetwork
    assert dict(batch.labels) == {"obt-build": "true", "input-watermark": str(plan.input_watermark)}


def test_local_settings_leave_network_and_identity_unset():
    batch = batches.batch_request(_plan(), Settings(job_main_uri="file:///job.py"))["batch"]
    assert batch.environment_config.execution_config.service_account == ""
    assert batch.environment_config.execution_config.subnetwork_uri == ""


def _http_error(status: int, grpc_status: str) -> gexc.GoogleAPICallError:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"error": {"code": status, "message": "boom", "status": grpc_status}}).encode()
    response.request = requests.Request("POST", "http://dataproc/v1/x").prepare()
    return gexc.from_http_response(response)


class RaisingClient:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    def create_batch(self, request, timeout):
        raise self.error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (_http_error(409, "ALREADY_EXISTS"), "duplicate"),
        (gexc.AlreadyExists("exists"), "duplicate"),
        (_http_error(409, "ABORTED"), TransientError),
        (_http_error(503, "UNAVAILABLE"), TransientError),
        (_http_error(500, "INTERNAL"), TransientError),
        (_http_error(429, "RESOURCE_EXHAUSTED"), TransientError),
        (requests.ConnectionError("refused"), TransientError),
        (_http_error(403, "PERMISSION_DENIED"), TransientError),
        (_http_error(400, "INVALID_ARGUMENT"), PermanentError),
    ],
)
def test_dataproc_answers_map_to_outcomes(monkeypatch, error, expected):
    assert isinstance(_http_error(409, "ALREADY_EXISTS"), gexc.Conflict)  # REST maps by HTTP status only
    monkeypatch.setattr(batches.clients, "batches", lambda settings: RaisingClient(error))
    if isinstance(expected, str):
        assert batches.submit_build(_plan(), SETTINGS).outcome == expected
    else:
        with pytest.raises(expected):
            batches.submit_build(_plan(), SETTINGS)


def test_missing_job_uri_keeps_the_event_for_a_retry():
    with pytest.raises(TransientError, match="OBT_JOB_MAIN_URI"):
        batches.submit_build(_plan(), Settings())
