"""``functions/load_obt`` in-process through functions-framework, reading builds from the storage emulator: what it
does, and what it answers (``{"action", "reason", "build_id"}``, ``obt.responses``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from functions_framework import create_app

from obt import clients, objects
from obt.config import Settings
from obt.warehouse.duckdb import DuckDbWarehouse
from tests.load_obt.builds import build_id, message, pubsub_event_data, upload_build
from tests.warehouse.obt_rows import make_rows

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "load_obt" / "main.py"
TYPE = "google.cloud.pubsub.topic.v1.messagePublished"
EVENT_SOURCE = "//pubsub.googleapis.com/projects/obt-local/topics/obt-build-complete"


@pytest.fixture
def settings(gcs_emulator, tmp_path, monkeypatch) -> Settings:
    monkeypatch.setenv("OBT_ENV", "local")
    monkeypatch.setenv("OBT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("OBT_WAREHOUSE_PATH", raising=False)
    for name, value in gcs_emulator.env().items():
        monkeypatch.setenv(name, value)
    return Settings.from_env()


@pytest.fixture(scope="module")
def client():
    return create_app("load_obt", str(SOURCE)).test_client()


def binary(client, data: dict, event_id: str = "e1"):
    headers = {
        "ce-id": event_id,
        "ce-source": EVENT_SOURCE,
        "ce-type": TYPE,
        "ce-specversion": "1.0",
        "Content-Type": "application/json",
    }
    return client.post("/", headers=headers, data=json.dumps(data))


def structured(client, data: dict, event_id: str = "e2"):
    body = {"id": event_id, "source": EVENT_SOURCE, "type": TYPE, "specversion": "1.0", "data": data}
    return client.post("/", headers={"Content-Type": "application/cloudevents+json"}, data=json.dumps(body))


def ledger(settings):
    return DuckDbWarehouse(settings).query(
        "SELECT build_id, outcome, reason FROM obt_ops.load_ledger ORDER BY finished_at"
    )


def test_binary_mode_event_loads_the_build(settings, client, tmp_path):
    build = build_id("fn-binary")
    upload_build(settings, tmp_path, build, make_rows(120), watermark=5)
    response = binary(client, pubsub_event_data(message(build), "m-1"))
    assert response.status_code == 200, response.data
    assert response.get_json() == {"action": "loaded", "reason": "newest build", "build_id": build}
    wh = DuckDbWarehouse(settings)
    assert wh.query("SELECT COUNT(*) AS n FROM movie_analytics.obt") == [{"n": 120}]
    assert ledger(settings) == [{"build_id": build, "outcome": "loaded", "reason": "newest build"}]


def test_structured_mode_event_is_accepted_and_redelivery_skipped(settings, client, tmp_path):
    build = build_id("fn-structured")
    upload_build(settings, tmp_path, build, make_rows(30), watermark=5)
    assert structured(client, pubsub_event_data(message(build))).status_code == 200
    again = structured(client, pubsub_event_data(message(build)))
    assert (again.status_code, again.get_json()["action"], again.get_json()["build_id"]) == (200, "skipped", build)
    assert [r["outcome"] for r in ledger(settings)] == ["loaded", "skipped"]


def test_malformed_message_is_acknowledged(settings, client):
    response = binary(client, pubsub_event_data(b'{"build_id": 1}'))
    assert response.status_code == 200
    assert response.get_json()["action"] == "rejected" and "misses manifest_uri" in response.get_json()["reason"]
    assert not (settings.state_dir / "warehouse.duckdb").exists()


def test_a_build_that_does_not_exist_is_rejected_with_the_reason(settings, client):
    build = build_id("fn-never-built")
    response = binary(client, pubsub_event_data(message(build)))
    assert response.status_code == 200
    body = response.get_json()
    assert (body["action"], body["build_id"]) == ("rejected", build)
    assert "object not found" in body["reason"]
    assert ledger(settings) == [{"build_id": build, "outcome": "rejected", "reason": body["reason"]}]


def test_storage_outage_fails_the_function_for_a_retry(settings, client, monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setattr(objects, "RETRY", objects.RETRY.with_timeout(1.0))
    clients.storage_client.cache_clear()
    try:
        response = binary(client, pubsub_event_data(message(build_id("fn-outage"))))
    finally:
        clients.storage_client.cache_clear()
    assert response.status_code == 503
    assert response.get_json()["action"] == "retry"
    assert [r["outcome"] for r in ledger(settings)] == ["failed"]
