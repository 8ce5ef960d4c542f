"""Parsing storage finalized CloudEvents: good ones become typed objects, bad ones a clear PermanentError."""

from __future__ import annotations

import pytest
from cloudevents.http import CloudEvent, from_http

from obt.errors import PermanentError
from obt.trigger.events import parse_storage_event
from tests.events import corpus

NAME = "movie_review/ingest_date=2026-11-23/movie_review.csv"


def _event(**kwargs) -> CloudEvent:
    e = corpus.storage_finalized(NAME, **kwargs)
    return from_http(e.headers, e.body)


def test_integer_fields_may_arrive_as_numbers_too():
    parsed = parse_storage_event(_event(data_overrides={"generation": 7, "size": 12, "metageneration": 1}))
    assert (parsed.generation, parsed.size, parsed.metageneration) == (7, 12, 1)
    assert parsed.uri == f"gs://obt-raw/{NAME}"


def test_zero_byte_object_parses_with_size_zero():
    assert parse_storage_event(_event(size=0)).size == 0


def test_data_sent_without_json_content_type_is_still_read():
    e = corpus.storage_finalized(NAME)
    headers = {**e.headers, "Content-Type": "application/octet-stream"}
    assert parse_storage_event(from_http(headers, e.body)).name == NAME


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data_overrides": {"name": None}}, "'name' must be a non-empty string, got missing"),
        ({"data_overrides": {"name": ""}}, "'name' must be a non-empty string"),
        ({"data_overrides": {"bucket": None}}, "'bucket' must be a non-empty string"),
        ({"data_overrides": {"generation": None}}, "'generation' must be a decimal integer, got missing"),
        ({"data_overrides": {"generation": "12a"}}, "'generation' must be a decimal integer"),
        ({"data_overrides": {"generation": True}}, "'generation' must be a decimal integer"),
        ({"data_overrides": {"generation": "0"}}, "'generation' must be >= 1"),
        ({"data_overrides": {"size": None}}, "'size' must be a decimal integer, got missing"),
        ({"data_overrides": {"size": "-1"}}, "'size' must be a decimal integer"),
        ({"data_overrides": {"size": 1.5}}, "'size' must be a decimal integer"),
        ({"data_overrides": {"contentType": 5}}, "'contentType' must be a string"),
        ({"attribute_overrides": {"type": "google.cloud.storage.object.v1.deleted"}}, "unexpected CloudEvent type"),
        ({"attribute_overrides": {"source": "//pubsub.googleapis.com/projects/p/topics/t"}}, "is not //storage"),
        ({"attribute_overrides": {"source": "//storage.googleapis.com/projects/_/buckets/other"}}, "does not match"),
        ({"attribute_overrides": {"subject": "objects/elsewhere.csv"}}, "subject"),
    ],
)
def test_malformed_events_name_what_is_wrong(kwargs, message):
    with pytest.raises(PermanentError, match=message.replace("(", r"\(")):
        parse_storage_event(_event(**kwargs))


@pytest.mark.parametrize(
    ("body", "message"),
    [(b"[1, 2]", "must be a JSON object, got list"), (b"not json", "not JSON"), (b"\xff\xfe", "not UTF-8")],
)
def test_unusable_payloads_are_permanent(body, message):
    e = corpus.storage_finalized(NAME)
    event = from_http({**e.headers, "Content-Type": "application/octet-stream"}, body)
    with pytest.raises(PermanentError, match=message):
        parse_storage_event(event)


def test_not_a_cloud_event_at_all():
    with pytest.raises(PermanentError, match="not a CloudEvent"):
        parse_storage_event(["nope"])
