"""OBT builds as Dataproc Serverless batches (google-cloud-dataproc, REST transport): the ``Batches`` port.

``submit`` (on_raw_landed): the batch id is the build id, so Dataproc itself deduplicates: a second
CreateBatch with the same id answers ALREADY_EXISTS, which counts as success. Over REST that arrives as
HTTP 409, which google-api-core maps to ``Conflict`` (not ``AlreadyExists``, its gRPC-only subclass); the
error body's ``status`` tells ALREADY_EXISTS from ABORTED. Submission does not wait for the batch: the job
announces its own completion, and ``obt reconcile`` covers drivers that die before doing so.

``ended_since`` (reconcile): the OBT batches that reached a terminal state. ``active_since`` (``obt status``): the
ones still pending or running, in the same record (its ``state`` is simply not terminal yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from google.api_core import exceptions as gexc

from obt import clients
from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.log import get_logger
from obt.retryable import is_transient
from obt.trigger.planner import BuildPlan
from obt_contract.message import BUILD_ID_PREFIX

log = get_logger(__name__)

BUILD_LABEL = "obt-build"
ENDED = ("SUCCEEDED", "FAILED", "CANCELLED")
ACTIVE = ("PENDING", "RUNNING", "CANCELLING")


@dataclass(frozen=True)
class Submission:
    build_id: str
    outcome: str  # "submitted" | "duplicate"
    operation: str = ""


@dataclass(frozen=True)
class EndedBatch:
    build_id: str
    state: str
    state_message: str
    create_time: datetime | None


class Batches(Protocol):
    def submit(self, plan: BuildPlan) -> Submission: ...

    def ended_since(self, since: datetime) -> list[EndedBatch]: ...

    def active_since(self, since: datetime) -> list[EndedBatch]: ...


class DataprocBatches:
    """``Batches`` on Dataproc Serverless (or the local endpoint, ``Settings.dataproc_endpoint``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def submit(self, plan: BuildPlan) -> Submission:
        return submit_build(plan, self.settings)

    def ended_since(self, since: datetime) -> list[EndedBatch]:
        return list_ended_batches(self.settings, since)

    def active_since(self, since: datetime) -> list[EndedBatch]:
        return list_ended_batches(self.settings, since, states=ACTIVE)


def batch_parent(settings: Settings) -> str:
    return f"projects/{settings.project}/locations/{settings.region}"


def batch_request(plan: BuildPlan, settings: Settings) -> dict:
    """The CreateBatchRequest for ``plan``; configuration comes only from ``settings``."""
    from google.cloud import dataproc_v1

    execution = dataproc_v1.ExecutionConfig()
    if settings.dataproc_service_account:
        execution.service_account = settings.dataproc_service_account
    if settings.dataproc_subnetwork:
        execution.subnetwork_uri = settings.dataproc_subnetwork
    batch = dataproc_v1.Batch(
        pyspark_batch=dataproc_v1.PySparkBatch(
            main_python_file_uri=settings.job_main_uri,
            python_file_uris=list(settings.job_py_files),
            args=plan.job_args(
                settings.raw_bucket, settings.curated_bucket, settings.topic_path, settings.dq_max_quarantine_share
            ),
        ),
        runtime_config=dataproc_v1.RuntimeConfig(
            version=settings.dataproc_runtime_version, properties=dict(settings.spark_properties)
        ),
        environment_config=dataproc_v1.EnvironmentConfig(execution_config=execution),
        labels={BUILD_LABEL: "true", "input-watermark": str(plan.input_watermark)},
    )
    return {"parent": batch_parent(settings), "batch": batch, "batch_id": plan.build_id}


def _error_status(exc: gexc.GoogleAPICallError) -> str:
    response = getattr(exc, "response", None)
    try:
        return str(response.json()["error"]["status"])
    except Exception:
        return ""


def submit_build(plan: BuildPlan, settings: Settings) -> Submission:
    if not settings.job_main_uri:
        # A deployment fault, not the event's: keep the event (retry) until OBT_JOB_MAIN_URI is set.
        raise TransientError("OBT_JOB_MAIN_URI is not set; cannot submit the Spark job")
    request = batch_request(plan, settings)
    try:
        operation = clients.batches(settings).create_batch(request=request, timeout=60.0)
    except gexc.AlreadyExists:
        return Submission(plan.build_id, "duplicate")
    except gexc.Conflict as exc:
        status = _error_status(exc)
        if status == "ABORTED":
            raise TransientError(f"CreateBatch {plan.build_id} aborted: {exc.message}") from exc
        log.info("batch already exists", build_id=plan.build_id, status=status or "409", detail=exc.message)
        return Submission(plan.build_id, "duplicate")
    except Exception as exc:
        if is_transient(exc):
            raise TransientError(f"CreateBatch {plan.build_id} failed: {exc}") from exc
        if isinstance(exc, gexc.Unauthorized | gexc.Forbidden | gexc.NotFound):
            # Permissions, API enablement or region: fixed by a deployment, so keep the event meanwhile.
            raise TransientError(f"CreateBatch {plan.build_id} not allowed yet: {exc}") from exc
        if isinstance(exc, gexc.GoogleAPICallError):
            raise PermanentError(f"Dataproc rejected batch {plan.build_id}: {exc}") from exc
        raise
    name = getattr(getattr(operation, "operation", None), "name", "")
    return Submission(plan.build_id, "submitted", name)


def _state_name(state: Any) -> str:
    return getattr(state, "name", str(state))


def list_ended_batches(settings: Settings, since: datetime, states: tuple[str, ...] = ENDED) -> list[EndedBatch]:
    """OBT batches created since ``since`` in one of ``states`` (by default: a terminal state)."""
    # Both GCP and the local endpoint accept a create_time clause; state and id prefix are checked here.
    request = {
        "parent": batch_parent(settings),
        "filter": f'create_time >= "{since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"',
    }
    try:
        batches = list(clients.batches(settings).list_batches(request=request))
    except Exception as exc:
        if is_transient(exc) or isinstance(exc, gexc.GoogleAPICallError):
            raise TransientError(f"ListBatches in {request['parent']} failed: {exc}") from exc
        raise
    ended = []
    for batch in batches:
        build_id = batch.name.rsplit("/", 1)[-1]
        state = _state_name(batch.state)
        if not build_id.startswith(BUILD_ID_PREFIX) or state not in states:
            continue
        created = batch.create_time if isinstance(batch.create_time, datetime) else None
        if created is not None and created < since:
            continue
        ended.append(EndedBatch(build_id, state, batch.state_message or "", created))
    return ended
