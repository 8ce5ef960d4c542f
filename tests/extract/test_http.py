"""The deployed entry point through functions-framework: status codes and bodies."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from functions_framework import create_app
from google.api_core import exceptions as gexc

from obt.extract import service
from tests.extract.conftest import unique

SOURCE = Path(__file__).resolve().parents[2] / "functions" / "extract_postgres" / "main.py"


@pytest.fixture
def client():
    return create_app(target="extract_postgres", source=str(SOURCE), signature_type="http").test_client()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"tables": ["pg_shadow"]}', "not in the extract allow-list"),
        ('{"tables": "user_purchase"}', "non-empty list"),
        ('{"ingest_date": "yesterday"}', "YYYY-MM-DD"),
        ("{nope", "not JSON"),
    ],
)
def test_bad_requests_get_400(client, monkeypatch, body, message):
    monkeypatch.setenv("OBT_EXTRACT_TABLES", "user_purchase")
    response = client.post("/", data=body, headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 400
    assert message in response.get_json()["error"]


def test_success_returns_the_manifest_and_a_retry_reuses_it(client, extract_env, tricky_table):
    run_id = unique("run")
    body = json.dumps({"tables": [tricky_table], "run_id": run_id})
    headers = {"X-CloudScheduler-ScheduleTime": "2026-11-20T02:00:00Z"}
    first = client.post("/", data=body, headers=headers)
    assert first.status_code == 200, first.get_data(as_text=True)
    (snapshot,) = first.get_json()["snapshots"]
    assert snapshot["reused"] is False
    manifest = snapshot["manifest"]
    assert (manifest["table"], manifest["run_id"], manifest["ingest_date"]) == (tricky_table, run_id, "2026-11-20")
    assert manifest["total_rows"] == 20000
    assert snapshot["manifest_uri"].endswith(f"/ingest_date=2026-11-20/run_id={run_id}/_MANIFEST.json")

    retry = client.post("/", data=body, headers=headers)
    assert retry.status_code == 200
    assert retry.get_json()["snapshots"][0] == {**snapshot, "reused": True}


def test_database_down_gets_503(client, extract_env, tricky_table, monkeypatch):
    monkeypatch.setenv("OBT_PG_PORT", str(_free_port()))  # nothing listens there: connection refused
    response = client.post("/", data=json.dumps({"tables": [tricky_table], "run_id": unique("run")}))
    assert response.status_code == 503
    assert response.get_json()["retry"] is True
    assert "connect" in response.get_json()["error"]


def test_storage_down_gets_503(client, extract_env, tricky_table, monkeypatch):
    class DownBlob:
        generation = None

        def download_as_bytes(self, **kwargs):
            raise gexc.ServiceUnavailable("storage is down (injected)")

    class DownBucket:
        name = "obt-raw"

        def blob(self, name, **kwargs):
            return DownBlob()

    class DownClient:
        def bucket(self, name):
            return DownBucket()

    monkeypatch.setattr(service.clients, "storage", lambda settings: DownClient())
    response = client.post("/", data=json.dumps({"tables": [tricky_table], "run_id": unique("run")}))
    assert response.status_code == 503
    assert "storage is down" in response.get_json()["error"]


def test_missing_table_is_a_permanent_500(client, extract_env, monkeypatch):
    monkeypatch.setenv("OBT_EXTRACT_TABLES", "no_such_table")
    response = client.post("/", data=json.dumps({"tables": ["no_such_table"], "run_id": unique("run")}))
    assert response.status_code == 500
    assert "does not exist" in response.get_json()["error"]


def test_an_unexpected_error_still_answers_json(client, monkeypatch):
    from obt.extract import http

    def broken(settings, request):
        raise RuntimeError("a bug (injected)")

    monkeypatch.setattr(http, "run_extract", broken)
    response = client.post("/", data="{}")
    assert response.status_code == 500
    assert response.get_json() == {"error": "RuntimeError: a bug (injected)"}
