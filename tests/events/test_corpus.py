"""The golden corpus is what GCP sends, and functions-framework reads both modes the same way."""

from __future__ import annotations

import base64
import json

import pytest
from cloudevents.http import from_http

from obt.trigger.events import FINALIZED, parse_storage_event
from tests.events import corpus

KINDS = (corpus.STORAGE_FINALIZED, corpus.PUBSUB_PUBLISHED)


def test_corpus_holds_both_event_kinds_in_both_modes():
    assert corpus.names() == sorted(f"{kind}.{mode}" for kind in KINDS for mode in corpus.MODES)


@pytest.mark.parametrize("kind", KINDS)
def test_binary_and_structured_modes_carry_the_same_event(kind):
    binary, structured = (from_http(e.headers, e.body) for e in (corpus.load(f"{kind}.{m}") for m in corpus.MODES))
    # Binary mode takes datacontenttype from Content-Type (with its charset); everything else is identical.
    assert _without_content_type(binary) == _without_content_type(structured)
    assert binary["datacontenttype"].startswith("application/json")
    assert structured["datacontenttype"] == "application/json"
    assert binary.get_data() == structured.get_data()


def test_binary_storage_event_has_eventarc_headers_and_string_int64_fields():
    event = corpus.load("storage_finalized.binary")
    assert event.headers["ce-type"] == FINALIZED
    assert event.headers["ce-specversion"] == "1.0"
    assert event.headers["ce-source"] == "//storage.googleapis.com/projects/_/buckets/obt-raw"
    assert event.headers["ce-subject"] == "objects/" + event.data["name"]
    assert event.headers["ce-bucket"] == event.data["bucket"]
    for key in ("generation", "metageneration", "size"):
        assert isinstance(event.data[key], str) and event.data[key].isdigit()
    assert event.data["id"] == f"{event.data['bucket']}/{event.data['name']}/{event.data['generation']}"


@pytest.mark.parametrize("mode", corpus.MODES)
def test_storage_event_parses_into_the_typed_object(mode):
    event = corpus.load(f"storage_finalized.{mode}")
    parsed = parse_storage_event(from_http(event.headers, event.body))
    assert parsed.bucket == "obt-raw"
    assert parsed.name == "movie_review/ingest_date=2026-11-23/movie_review.csv"
    assert parsed.generation == 1763892034568381
    assert parsed.size == 5284531
    assert parsed.event_id == "13195867453802917"


@pytest.mark.parametrize("mode", corpus.MODES)
def test_pubsub_event_carries_a_completion_message(mode):
    event = from_http(*_request(corpus.load(f"pubsub_message_published.{mode}")))
    assert event["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert event["source"] == "//pubsub.googleapis.com/projects/obt-local/topics/obt-build-complete"
    message = event.get_data()["message"]
    assert event["id"] == message["messageId"] == message["message_id"]
    assert message["publishTime"] == message["publish_time"]
    body = json.loads(base64.b64decode(message["data"]))
    assert set(body) == {"build_id", "manifest_uri", "status"}
    assert body["manifest_uri"].endswith(f"/obt/build_id={body['build_id']}/_MANIFEST.json")


@pytest.mark.parametrize("mode", corpus.MODES)
def test_storage_variant_keeps_every_repeated_field_consistent(mode):
    name = "log_reviews/ingest_date=2026-11-24/log_reviews.csv.gz"
    event = corpus.storage_finalized(name, generation=42, size=0, mode=mode)
    parsed = parse_storage_event(from_http(event.headers, event.body))
    assert (parsed.name, parsed.generation, parsed.size, parsed.subject) == (name, 42, 0, f"objects/{name}")
    assert event.data["selfLink"].endswith("/o/log_reviews%2Fingest_date%3D2026-11-24%2Flog_reviews.csv.gz")
    assert event.data["id"] == f"obt-raw/{name}/42"


def test_pubsub_variant_carries_the_given_message_and_attributes():
    event = corpus.pubsub_published({"build_id": "obt-x", "status": "failed"}, attributes={"origin": "test"})
    message = event.data["message"]
    assert json.loads(base64.b64decode(message["data"])) == {"build_id": "obt-x", "status": "failed"}
    assert message["attributes"] == {"origin": "test"}
    assert event.headers["ce-id"] == message["messageId"]


def _request(event: corpus.CorpusEvent):
    return event.headers, event.body


def _without_content_type(event) -> dict:
    return {k: v for k, v in event.get_attributes().items() if k != "datacontenttype"}


def test_local_eventarc_stand_in_sends_the_golden_shape():
    """The stand-in (obt_tools.local.eventarc) and the corpus agree on headers and data: local runs see GCP's shape."""
    from obt_tools.local.eventarc import storage_event

    golden = corpus.load("storage_finalized.binary")
    fields = ("name", "generation", "metageneration", "size", "contentType", "timeCreated")
    resource = {k: golden.data[k] for k in fields}
    extra = {"md5Hash": "x", "crc32c": "y", "etag": "z"}
    local = storage_event("obt-raw", {**resource, **extra}, golden.headers["ce-id"], golden.headers["ce-time"])
    assert {k.lower() for k in local.headers} == {k.lower() for k in golden.headers}
    assert set(local.data) == set(golden.data)
    assert parse_storage_event(from_http(dict(local.headers), local.body())) == parse_storage_event(
        from_http(golden.headers, golden.body)
    )
