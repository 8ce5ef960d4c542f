"""The Eventarc stand-in: GCP-shaped CloudEvents, delivered for real, retried on failure, duplicable."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

from obt import clients
from obt_tools.local import eventarc, procs
from obt_tools.local.eventarc import Message
from tests.local.conftest import start_standin

NOTIFICATION = {
    "kind": "storage#object",
    "id": "obt-raw/movie_review/ingest_date=2026-01-01/movie_review.csv#1795475277936597",
    "name": "movie_review/ingest_date=2026-01-01/movie_review.csv",
    "bucket": "obt-raw",
    "generation": "1795475277936597",
    "contentType": "text/csv",
    "timeCreated": "2026-11-23T23:07:57.936591Z",
    "updated": "2026-11-23T23:07:57.936595Z",
    "storageClass": "STANDARD",
    "size": "8",
    "md5Hash": "5evUwCzvvnlVl3xnraJCtw==",
    "crc32c": "SZ2HxQ==",
}
ATTRIBUTES = {
    "eventType": "OBJECT_FINALIZE",
    "bucketId": "obt-raw",
    "objectId": NOTIFICATION["name"],
    "objectGeneration": NOTIFICATION["generation"],
    "payloadFormat": "JSON_API_V1",
}
PUBLISHED = datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=UTC)


def test_storage_event_has_gcp_headers_and_data():
    event = eventarc.storage_event_from_notification(
        Message(json.dumps(NOTIFICATION).encode(), ATTRIBUTES, "42", PUBLISHED)
    )
    assert event is not None
    assert event.headers["ce-type"] == "google.cloud.storage.object.v1.finalized"
    assert event.headers["ce-source"] == "//storage.googleapis.com/projects/_/buckets/obt-raw"
    assert event.headers["ce-subject"] == "objects/movie_review/ingest_date=2026-01-01/movie_review.csv"
    expected_id = eventarc.storage_event_id("obt-raw", NOTIFICATION["name"], NOTIFICATION["generation"])
    assert event.headers["ce-id"] == expected_id
    assert event.headers["ce-id"].isdigit()
    assert event.headers["ce-specversion"] == "1.0"
    assert event.headers["ce-time"] == NOTIFICATION["updated"]
    data = event.data
    assert (data["bucket"], data["name"]) == ("obt-raw", NOTIFICATION["name"])
    assert data["generation"] == "1795475277936597" and data["metageneration"] == "1" and data["size"] == "8"
    assert (data["contentType"], data["timeCreated"], data["updated"]) == (
        "text/csv",
        NOTIFICATION["timeCreated"],
        NOTIFICATION["updated"],
    )


def test_storage_event_ids_differ_per_generation_only():
    same = eventarc.storage_event_id("b", "o", "1")
    assert same == eventarc.storage_event_id("b", "o", "1")
    assert len({same, eventarc.storage_event_id("b", "o", "2"), eventarc.storage_event_id("b", "p", "1")}) == 3


def test_integer_fields_become_strings():
    data = eventarc.storage_object_data({**NOTIFICATION, "generation": 7, "size": 12, "metageneration": 2})
    assert (data["generation"], data["size"], data["metageneration"]) == ("7", "12", "2")


def test_non_finalize_notifications_are_not_events():
    message = Message(json.dumps(NOTIFICATION).encode(), {**ATTRIBUTES, "eventType": "OBJECT_DELETE"}, "1", PUBLISHED)
    assert eventarc.storage_event_from_notification(message) is None


def test_storage_route_filters_other_buckets():
    route = eventarc.Route("on_raw_landed", "s", "http://x", "storage", "p", bucket="obt-raw")
    other = {**ATTRIBUTES, "bucketId": "obt-curated"}
    body = json.dumps({**NOTIFICATION, "bucket": "obt-curated"}).encode()
    assert route.event_for(Message(body, other, "1", PUBLISHED)) is None
    assert route.event_for(Message(json.dumps(NOTIFICATION).encode(), ATTRIBUTES, "1", PUBLISHED)) is not None


def test_pubsub_event_wraps_message_like_eventarc():
    message = Message(b'{"build_id": "b"}', {"k": "v"}, "99", PUBLISHED)
    event = eventarc.pubsub_event("obt-local", "obt-build-complete", "eventarc-load-obt", message)
    assert event.headers["ce-type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert event.headers["ce-source"] == "//pubsub.googleapis.com/projects/obt-local/topics/obt-build-complete"
    assert event.headers["ce-id"] == "99"
    assert event.headers["ce-time"] == "2026-11-23T10:00:00.123Z"
    assert event.data == {
        "message": {
            "data": base64.b64encode(b'{"build_id": "b"}').decode(),
            "attributes": {"k": "v"},
            "messageId": "99",
            "message_id": "99",
            "publishTime": "2026-11-23T10:00:00.123Z",
            "publish_time": "2026-11-23T10:00:00.123Z",
        },
        "subscription": "projects/obt-local/subscriptions/eventarc-load-obt",
    }


def test_backoff_is_short_and_grows():
    assert [eventarc.backoff_seconds(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


def test_deliver_by_hand_reaches_the_function(recorder):
    resource = {**NOTIFICATION, "name": f"by-hand/{uuid.uuid4().hex}.csv"}
    event = eventarc.storage_event("obt-raw", resource, f"hand-{uuid.uuid4().hex}")
    assert eventarc.deliver(recorder.url, event) == 200
    got = recorder.wait_for(lambda d: d["attributes"]["id"] == event.id)
    assert got[0]["attributes"]["type"] == eventarc.STORAGE_FINALIZED
    assert got[0]["data"]["name"] == resource["name"]


def test_deliver_reports_unreachable_function():
    event = eventarc.pubsub_event("p", "t", "s", Message(b"x", {}, "1", PUBLISHED))
    assert eventarc.deliver(f"http://127.0.0.1:{procs.free_port()}", event, timeout=2) == 0


def _upload(gcs_emulator, name: str, bucket: str | None = None):
    client = clients.storage_client(gcs_emulator.project)
    blob = client.bucket(bucket or gcs_emulator.raw_bucket).blob(name)
    blob.upload_from_string(b"cid,review_str,review_id\n1,good,1\n", content_type="text/csv")
    blob.reload()
    return blob


def _publish(project: str, body: bytes, **attributes: str) -> str:
    publisher = clients.publisher_client()
    return publisher.publish(publisher.topic_path(project, "obt-build-complete"), body, **attributes).result(10)


def test_uploaded_object_reaches_the_function_as_a_storage_event(gcs_emulator, recorder, eventarc):
    name = f"movie_review/ingest_date=2026-01-02/{uuid.uuid4().hex}.csv"
    blob = _upload(gcs_emulator, name)
    got = recorder.wait_for(lambda d: d["attributes"].get("subject") == f"objects/{name}")
    assert len(got) == 1
    attrs, data = got[0]["attributes"], got[0]["data"]
    assert attrs["type"] == "google.cloud.storage.object.v1.finalized"
    assert attrs["source"] == "//storage.googleapis.com/projects/_/buckets/obt-raw"
    assert attrs["bucket"] == "obt-raw"
    assert data["generation"] == str(blob.generation) and data["size"] == str(blob.size)
    assert data["bucket"] == "obt-raw" and data["contentType"] == "text/csv"


def test_curated_objects_do_not_trigger(gcs_emulator, recorder, eventarc):
    name = f"obt/build_id=x/{uuid.uuid4().hex}.parquet"
    _upload(gcs_emulator, name, bucket=gcs_emulator.curated_bucket)
    marker = f"movie_review/ingest_date=2026-01-03/{uuid.uuid4().hex}.csv"
    _upload(gcs_emulator, marker)
    recorder.wait_for(lambda d: d["attributes"].get("subject") == f"objects/{marker}")
    assert not [d for d in recorder.deliveries() if d["attributes"].get("subject") == f"objects/{name}"]


def test_published_message_reaches_the_function(pubsub_emulator, recorder, eventarc):
    _, subscription = eventarc
    body = json.dumps({"build_id": f"obt-{uuid.uuid4().hex[:20]}", "status": "succeeded"}).encode()
    message_id = _publish(pubsub_emulator.project, body, origin="test")
    got = recorder.wait_for(lambda d: d["attributes"]["id"] == message_id)
    assert len(got) == 1
    attrs, data = got[0]["attributes"], got[0]["data"]
    assert attrs["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert attrs["source"] == f"//pubsub.googleapis.com/projects/{pubsub_emulator.project}/topics/obt-build-complete"
    assert base64.b64decode(data["message"]["data"]) == body
    assert data["message"]["attributes"] == {"origin": "test"}
    assert data["subscription"] == f"projects/{pubsub_emulator.project}/subscriptions/{subscription}"


def test_failed_delivery_is_redelivered(gcs_emulator, pubsub_emulator, recorder, eventarc):
    name = f"movie_review/ingest_date=2026-01-04/fail-once-{uuid.uuid4().hex}.csv"
    _upload(gcs_emulator, name)
    message_id = _publish(pubsub_emulator.project, b'{"fail-once": true}')
    stored = recorder.wait_for(lambda d: d["attributes"].get("subject") == f"objects/{name}", count=2)
    published = recorder.wait_for(lambda d: d["attributes"]["id"] == message_id, count=2)
    for deliveries in (stored, published):
        assert [d["failed"] for d in deliveries] == [True, False]
        assert len({d["attributes"]["id"] for d in deliveries}) == 1


def test_duplicates_can_be_injected(local_cloud_dir, gcs_emulator, pubsub_emulator, recorder):
    service, _ = start_standin(local_cloud_dir, pubsub_emulator.project, recorder.url, 3, "eventarc-dup")
    try:
        name = f"movie_review/ingest_date=2026-01-05/{uuid.uuid4().hex}.csv"
        _upload(gcs_emulator, name)
        got = recorder.wait_for(lambda d: d["attributes"].get("subject") == f"objects/{name}", count=4, timeout=15)
    finally:
        procs.stop(service)
    # The session's default stand-in delivers once; this one three times, all with the same event id.
    assert len(got) == 4
    assert len({d["attributes"]["id"] for d in got}) == 1
