from __future__ import annotations

import base64
import json

import pytest

from obt.load.messages import MessageError, decode_pubsub_event, parse_message
from obt_contract.message import build_message

BUILD = "obt-0123456789abcdef0123"
URI = f"gs://obt-curated/obt/build_id={BUILD}/_MANIFEST.json"


def test_round_trip():
    message = parse_message(build_message(BUILD, URI, "failed", "spark died"), "obt-curated")
    assert (message.build_id, message.manifest_uri, message.status, message.reason) == (
        BUILD,
        URI,
        "failed",
        "spark died",
    )


def test_extra_fields_are_ignored():
    body = {"build_id": BUILD, "manifest_uri": URI, "status": "succeeded", "note": "backfill"}
    assert parse_message(json.dumps(body).encode(), "obt-curated").status == "succeeded"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[1]", "JSON object"),
        (json.dumps({"build_id": BUILD, "status": "succeeded"}).encode(), "misses manifest_uri"),
        (json.dumps({"build_id": "x", "manifest_uri": URI, "status": "succeeded"}).encode(), "build_id"),
        (json.dumps({"build_id": BUILD, "manifest_uri": URI, "status": "done"}).encode(), "status"),
        (
            json.dumps(
                {"build_id": BUILD, "manifest_uri": URI.replace("obt-curated", "evil"), "status": "succeeded"}
            ).encode(),
            "outside the curated bucket",
        ),
        (
            json.dumps(
                {"build_id": BUILD, "manifest_uri": "gs://obt-curated/other/_MANIFEST.json", "status": "succeeded"}
            ).encode(),
            "not the manifest of",
        ),
        (json.dumps({"build_id": BUILD, "manifest_uri": "/etc/passwd", "status": "succeeded"}).encode(), "gs://"),
    ],
)
def test_malformed_messages_are_rejected(data, match):
    with pytest.raises(MessageError, match=match):
        parse_message(data, "obt-curated")


def test_decode_pubsub_event():
    data = {
        "message": {
            "data": base64.b64encode(b'{"a": 1}').decode(),
            "attributes": {"k": "v"},
            "messageId": "42",
            "publishTime": "2026-11-23T00:00:00Z",
        },
        "subscription": "projects/p/subscriptions/s",
    }
    delivery = decode_pubsub_event(data)
    assert (delivery.data, delivery.message_id, delivery.attributes) == (b'{"a": 1}', "42", {"k": "v"})


@pytest.mark.parametrize("data", [None, {}, {"message": "x"}, {"message": {"data": "%%%"}}, {"message": {"data": 5}}])
def test_decode_rejects_non_pubsub_payloads(data):
    with pytest.raises(MessageError):
        decode_pubsub_event(data)


def test_oversized_data_is_refused_before_decoding():
    """The base64 text of more than MAX_MESSAGE_BYTES is refused as is: neither decoded nor quoted."""
    from obt_contract.message import MAX_MESSAGE_BYTES

    fits = base64.b64encode(b"{" + b" " * (MAX_MESSAGE_BYTES - 2) + b"}").decode()
    with pytest.raises(MessageError, match="misses build_id"):  # at the limit: decoded and parsed
        parse_message(decode_pubsub_event({"message": {"data": fits}}).data, "obt-curated")
    too_big = base64.b64encode(b"x" * (MAX_MESSAGE_BYTES + 3)).decode()  # one more 4-character group
    with pytest.raises(MessageError, match="over the limit") as refused:
        decode_pubsub_event({"message": {"data": too_big}})
    assert "xxxx" not in str(refused.value) and len(str(refused.value)) < 200
