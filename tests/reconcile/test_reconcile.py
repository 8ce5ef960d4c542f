"""obt reconcile against real local services: batches on the local Dataproc endpoint, markers and manifests
in the storage emulator, completion messages on the Pub/Sub emulator."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from functions_framework import create_app

from obt import clients
from obt.config import Settings
from obt.reconcile.service import handle_request, reconcile
from obt.services import Services
from obt.trigger.batches import batch_parent
from obt_contract.layout import build_manifest_name, build_marker_name
from obt_tools.cli import main as cli_main
from tests.on_raw_landed.stack import NOOP_JOB, scratch_bucket, wait_for_batch

pytestmark = [
    pytest.mark.slow,
    # The emulator only answers an empty pull at once with this (deprecated on GCP) flag.
    pytest.mark.filterwarnings("ignore:The return_immediately flag is deprecated:DeprecationWarning"),
]

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "reconcile" / "main.py"


@pytest.fixture
def world(gcs_emulator, pubsub_emulator, reconcile_dataproc, tmp_path):
    """A project of its own (its batches, its topic), a fresh curated bucket and a ledger (DuckDB) of its own, so
    tests do not see each other."""
    project = f"rec-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        project=project,
        curated_bucket=scratch_bucket(gcs_emulator.project, "cur"),
        dataproc_endpoint=reconcile_dataproc,
        state_dir=tmp_path,
        warehouse_path=tmp_path / "warehouse.duckdb",
    )
    publisher, subscriber = clients.publisher_client(), clients.subscriber_client()
    publisher.create_topic(name=settings.topic_path)
    subscription = f"projects/{project}/subscriptions/watch"
    subscriber.create_subscription(name=subscription, topic=settings.topic_path)
    return settings, subscription


def _create(settings: Settings, batch_id: str, main_uri: str):
    from google.cloud import dataproc_v1

    batch = dataproc_v1.Batch(pyspark_batch=dataproc_v1.PySparkBatch(main_python_file_uri=main_uri))
    request = {"parent": batch_parent(settings), "batch": batch, "batch_id": batch_id}
    clients.batches(settings).create_batch(request=request)
    return wait_for_batch(clients.batches(settings), f"{batch_parent(settings)}/batches/{batch_id}")


def _pull(subscription: str) -> list[tuple[dict, dict]]:
    response = clients.subscriber_client().pull(
        request={"subscription": subscription, "max_messages": 20, "return_immediately": True}, timeout=30
    )
    if response.received_messages:
        clients.subscriber_client().acknowledge(
            request={"subscription": subscription, "ack_ids": [m.ack_id for m in response.received_messages]}
        )
    return [(json.loads(m.message.data), dict(m.message.attributes)) for m in response.received_messages]


def _read(settings: Settings, name: str):
    blob = clients.storage(settings).bucket(settings.curated_bucket).blob(name)
    return json.loads(blob.download_as_bytes()) if blob.exists() else None


def _write(settings: Settings, name: str, body: dict) -> None:
    clients.storage(settings).bucket(settings.curated_bucket).blob(name).upload_from_string(json.dumps(body))


def test_ended_batches_without_marker_get_one_message_and_a_marker(world, tmp_path):
    settings, subscription = world
    job = tmp_path / "noop_job.py"
    job.write_text(NOOP_JOB)
    absent = f"gs://{settings.curated_bucket}/jobs/absent.py"  # staging fails: the batch ends FAILED
    ok, failed, recovered, done = (f"obt-{x * 20}" for x in "abcd")
    assert _create(settings, ok, f"file://{job}").state.name == "SUCCEEDED"
    for batch_id in (failed, recovered, done, "adhoc-batch"):
        assert _create(settings, batch_id, absent).state.name == "FAILED"
    _write(settings, build_manifest_name(recovered), {"build_id": recovered, "status": "succeeded", "reason": None})
    _write(settings, build_marker_name(done), {"message_id": "1", "published_at": "2026-11-23T00:00:00+00:00"})
    services = Services.from_settings(settings)
    # done's message was loaded long ago: the ledger says what became of it.
    warehouse = services.warehouse()
    warehouse.ensure_schema()
    warehouse.query("INSERT INTO obt_ops.load_ledger (build_id, outcome) VALUES (@b, 'skipped')", {"b": done})

    actions = {a.build_id: a for a in reconcile(settings, services)}

    assert set(actions) == {ok, failed, recovered, done}  # the non-OBT batch is none of reconcile's business
    assert (actions[done].action, actions[done].reason) == ("recorded", "the load ledger records it: skipped")
    messages = {body["build_id"]: (body, attributes) for body, attributes in _pull(subscription)}
    assert set(messages) == {ok, failed, recovered}
    assert messages[ok][0]["status"] == "failed" and "wrote no _MANIFEST.json" in messages[ok][0]["reason"]
    assert messages[failed][0]["status"] == "failed" and "Could not stage inputs" in messages[failed][0]["reason"]
    assert messages[recovered][0]["status"] == "succeeded"
    for build_id, (body, attributes) in messages.items():
        assert body["manifest_uri"] == f"gs://{settings.curated_bucket}/obt/build_id={build_id}/_MANIFEST.json"
        assert attributes == {"build_id": build_id, "status": body["status"], "origin": "reconcile"}
        marker = _read(settings, build_marker_name(build_id))
        assert marker["message_id"] == actions[build_id].message_id and marker["status"] == body["status"]

    # Announced now, not loaded yet (no loader here): within the grace period nothing is published again.
    again = {a.build_id: a.action for a in reconcile(settings, services)}
    assert again == {ok: "waiting", failed: "waiting", recovered: "waiting", done: "recorded"}
    assert _pull(subscription) == []


def test_dry_run_and_lookback_publish_nothing(world):
    settings, subscription = world
    build_id = f"obt-{uuid.uuid4().hex[:20]}"
    _create(settings, build_id, f"gs://{settings.curated_bucket}/jobs/absent.py")

    services = Services.from_settings(settings)
    later = datetime.now(UTC) + timedelta(days=30)
    assert reconcile(settings, services, lookback=timedelta(hours=1), now=lambda: later) == []
    [action] = reconcile(settings, services, dry_run=True)
    assert (action.action, action.status) == ("would_publish", "failed")
    assert _pull(subscription) == [] and _read(settings, build_marker_name(build_id)) is None


def test_http_function_and_cli(world, monkeypatch, capsys):
    settings, subscription = world
    build_id = f"obt-{uuid.uuid4().hex[:20]}"
    _create(settings, build_id, f"gs://{settings.curated_bucket}/jobs/absent.py")
    for name, value in (
        ("OBT_PROJECT", settings.project),
        ("OBT_CURATED_BUCKET", settings.curated_bucket),
        ("OBT_DATAPROC_ENDPOINT", settings.dataproc_endpoint),
        ("OBT_STATE_DIR", str(settings.state_dir)),
    ):
        monkeypatch.setenv(name, value)

    assert cli_main(["reconcile", "--dry-run"]) == 0
    assert f"{build_id} FAILED: would_publish status=failed" in capsys.readouterr().out

    client = create_app(target="reconcile", source=str(SOURCE), signature_type="http").test_client()
    rejected = client.post("/", data="not json", content_type="application/json")
    assert (rejected.status_code, rejected.get_json()) == (400, {"error": "body must be JSON"})
    response = client.post("/", json={"lookback_hours": 2})
    assert response.status_code == 200
    assert [(a["build_id"], a["action"]) for a in response.get_json()["actions"]] == [(build_id, "published")]
    assert [body["build_id"] for body, _ in _pull(subscription)] == [build_id]

    assert cli_main(["reconcile", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "waiting"
    # Right after an outage an operator need not wait: the message goes out again (the loader is idempotent).
    assert cli_main(["reconcile", "--grace-minutes", "0"]) == 0
    assert f"{build_id} FAILED: republished status=failed" in capsys.readouterr().out
    assert [body["build_id"] for body, _ in _pull(subscription)] == [build_id]


def test_unreachable_endpoint_is_a_one_line_error(world, capsys, monkeypatch):
    settings, _ = world
    monkeypatch.setenv("OBT_STATE_DIR", str(settings.state_dir))
    monkeypatch.setenv("OBT_DATAPROC_ENDPOINT", "http://127.0.0.1:9")
    assert cli_main(["reconcile"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("obt reconcile: error: ListBatches") and err.count("\n") == 1
    unreachable = replace(settings, dataproc_endpoint="http://127.0.0.1:9")
    body, status = handle_request(None, unreachable, Services.from_settings(unreachable))
    assert status == 500 and "ListBatches" in body["error"]
