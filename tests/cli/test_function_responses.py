"""Every answer of the functions is JSON (``obt.responses``), through functions-framework's test client.

Good and bad inputs that need no service; the answers of real loads and builds are checked where they run
(``tests/load_obt/test_function.py``, ``tests/on_raw_landed/test_function.py``).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from functions_framework import create_app

from tests.events import corpus

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
MOVIE = "movie_review/ingest_date=2026-11-23/movie_review.csv"


def _client(name: str):
    return create_app(target=name, source=str(FUNCTIONS / name / "main.py")).test_client()


@pytest.fixture(scope="module")
def on_raw_landed():
    return _client("on_raw_landed")


@pytest.fixture(scope="module")
def load_obt():
    return _client("load_obt")


def _answer(response) -> tuple[int, str, str, str | None]:
    assert response.content_type == "application/json", response.get_data(as_text=True)
    body = response.get_json()
    return response.status_code, body["action"], body["reason"], body["build_id"]


@pytest.mark.parametrize("function", ["on_raw_landed", "load_obt"])
def test_a_request_without_cloudevent_headers_is_a_json_400(function: str) -> None:
    status, action, reason, _ = _answer(_client(function).post("/", data='{"name": "x"}'))
    assert (status, action) == (400, "rejected")
    assert reason.startswith("not a CloudEvent (ce-specversion, ce-type, ce-source and ce-id headers")


@pytest.mark.parametrize("mode", corpus.MODES)
def test_a_good_event_for_another_bucket_is_acknowledged_as_ignored(on_raw_landed, mode: str) -> None:
    answer = _answer(corpus.storage_finalized(MOVIE, bucket="not-raw", mode=mode).post(on_raw_landed))
    assert answer == (200, "ignored", "bucket not-raw is not the raw bucket obt-raw", None)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"body": b"{not json"}, "event data is not JSON"),
        ({"ce-type": "google.cloud.storage.object.v1.deleted"}, "unexpected CloudEvent type"),
        ({"data_overrides": {"name": None}}, "event data 'name' must be a non-empty string, got missing"),
    ],
)
def test_a_bad_storage_event_is_acknowledged_with_its_reason(on_raw_landed, change: dict, reason: str) -> None:
    event = corpus.storage_finalized(MOVIE, data_overrides=change.get("data_overrides"))
    headers = {**event.headers, **{k: v for k, v in change.items() if k.startswith("ce-")}}
    response = on_raw_landed.post("/", headers=headers, data=change.get("body", event.body))
    status, action, text, build_id = _answer(response)
    assert (status, action, build_id) == (200, "rejected", None)
    assert reason in text


def _with_data(event: corpus.CorpusEvent, data: str) -> bytes:
    body = json.loads(event.body)
    body["message"]["data"] = data
    return json.dumps(body).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("!!not base64", "Pub/Sub message data is not base64"),
        (base64.b64encode(b"{nope").decode(), "message is not JSON"),
        (base64.b64encode(b'{"build_id": "obt-1"}').decode(), "message misses manifest_uri, status"),
    ],
)
def test_a_bad_completion_message_is_acknowledged_with_its_reason(load_obt, data: str, reason: str) -> None:
    event = corpus.pubsub_published(b"{}")
    status, action, text, build_id = _answer(load_obt.post("/", headers=event.headers, data=_with_data(event, data)))
    assert (status, action, build_id) == (200, "rejected", None)
    assert text.startswith("malformed completion message: ") and reason in text


def test_load_obt_rejects_a_storage_event(load_obt) -> None:
    status, action, text, _ = _answer(corpus.load("storage_finalized.binary").post(load_obt))
    assert (status, action) == (200, "rejected")
    assert "this function handles only google.cloud.pubsub.topic.v1.messagePublished" in text


@pytest.mark.parametrize("function", ["on_raw_landed", "load_obt", "reconcile", "extract_postgres"])
def test_a_broken_deployment_answers_json_500_so_the_platform_retries(function: str, monkeypatch) -> None:
    monkeypatch.setenv("OBT_ENV", "nowhere")  # settings() raises ConfigError inside the function
    event = corpus.storage_finalized(MOVIE) if function == "on_raw_landed" else corpus.pubsub_published(b"{}")
    response = _client(function).post("/", headers=event.headers, data=event.body)
    assert response.status_code == 500 and response.content_type == "application/json"
    assert "OBT_ENV must be 'local' or 'gcp'" in json.dumps(response.get_json())
