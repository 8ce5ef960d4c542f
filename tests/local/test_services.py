"""Each local service, for real, through the official clients (session fixtures from tests/conftest.py)."""

from __future__ import annotations

import io
import json
import uuid

import pytest
from google.api_core import exceptions as gexc
from google.cloud import pubsub_v1

from obt import clients
from obt_tools.local import pubsub


def _subscribe(project: str, topic: str) -> str:
    """A fresh subscription: it only sees messages published after this call."""
    subscriber = pubsub_v1.SubscriberClient()
    name = subscriber.subscription_path(project, f"test-{uuid.uuid4().hex[:10]}")
    subscriber.create_subscription(request={"name": name, "topic": f"projects/{project}/topics/{topic}"})
    return name


def _pull(subscription: str, expected: int = 1, attempts: int = 20) -> list:
    subscriber = pubsub_v1.SubscriberClient()
    received = []
    for _ in range(attempts):
        response = subscriber.pull(request={"subscription": subscription, "max_messages": 10}, timeout=5)
        received.extend(response.received_messages)
        if response.received_messages:
            subscriber.acknowledge(
                request={"subscription": subscription, "ack_ids": [m.ack_id for m in response.received_messages]}
            )
        if len(received) >= expected:
            break
    return received


def test_postgres_accepts_copy_from(postgres):
    table = f"copy_{uuid.uuid4().hex[:8]}"
    conn = postgres.connect()
    try:
        cur = conn.cursor()
        cur.execute(f"CREATE TABLE {table} (invoice_number varchar(10), quantity int, customer_id int)")
        data = io.BytesIO(b'invoice_number,quantity,customer_id\n536365,6,17850\n"C536379",-1,\n')
        cur.execute(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER true)", stream=data)
        cur.execute(f"SELECT invoice_number, quantity, customer_id FROM {table} ORDER BY 1")
        rows = cur.fetchall()
        conn.commit()
    finally:
        conn.close()
    assert [list(r) for r in rows] == [["536365", 6, 17850], ["C536379", -1, None]]


def test_postgres_env_matches_settings(postgres):
    from obt.config import Settings

    settings = Settings.from_env(postgres.env())
    assert (settings.pg_host, settings.pg_port, settings.pg_database) == (
        postgres.host,
        postgres.port,
        postgres.database,
    )


def test_pubsub_topics_and_subscriptions_exist(pubsub_emulator):
    subscriber = pubsub_v1.SubscriberClient()
    names = {
        s.name.rsplit("/", 1)[1]
        for s in subscriber.list_subscriptions(request={"project": f"projects/{pubsub_emulator.project}"})
    }
    assert {s.name for s in pubsub.SUBSCRIPTIONS} <= names


def test_pubsub_publish_and_pull(pubsub_emulator):
    subscription = _subscribe(pubsub_emulator.project, "obt-build-complete")
    body = {"build_id": "obt-" + "0" * 20, "manifest_uri": "gs://obt-curated/x", "status": "succeeded"}
    publisher = clients.publisher_client()
    topic = publisher.topic_path(pubsub_emulator.project, "obt-build-complete")
    publisher.publish(topic, json.dumps(body).encode(), origin="test").result(timeout=10)
    messages = _pull(subscription)
    assert [json.loads(m.message.data) for m in messages] == [body]
    assert messages[0].message.attributes["origin"] == "test"


def test_gcs_upload_publishes_finalize_notification(gcs_emulator):
    subscription = _subscribe(gcs_emulator.project, pubsub.RAW_NOTIFICATIONS_TOPIC)
    client = clients.storage_client(gcs_emulator.project)
    # The curated upload goes first: had it notified, its message would arrive before the raw one.
    client.bucket(gcs_emulator.curated_bucket).blob(f"ignored/{uuid.uuid4().hex}").upload_from_string(b"x")
    name = f"movie_review/ingest_date=2026-01-01/{uuid.uuid4().hex}.csv"
    blob = client.bucket(gcs_emulator.raw_bucket).blob(name)
    blob.upload_from_string(b"cid,review_str,review_id\n1,good,1\n", content_type="text/csv")
    messages = _pull(subscription)
    assert len(messages) == 1, "only the raw bucket notifies"
    attrs = messages[0].message.attributes
    assert (attrs["eventType"], attrs["bucketId"], attrs["objectId"]) == ("OBJECT_FINALIZE", "obt-raw", name)
    blob.reload()
    assert attrs["objectGeneration"] == str(blob.generation)


def test_gcs_enforces_generation_preconditions(gcs_emulator):
    client = clients.storage_client(gcs_emulator.project)
    blob = client.bucket(gcs_emulator.curated_bucket).blob(f"precondition/{uuid.uuid4().hex}")
    blob.upload_from_string(b"first", if_generation_match=0)
    with pytest.raises(gexc.PreconditionFailed):
        blob.upload_from_string(b"second", if_generation_match=0)
    assert blob.download_as_bytes() == b"first"


def test_load_obt_trigger_dead_letters_like_production(pubsub_emulator):
    subscriber = pubsub_v1.SubscriberClient()
    sub = subscriber.get_subscription(
        request={"subscription": subscriber.subscription_path(pubsub_emulator.project, pubsub.LOAD_OBT_SUBSCRIPTION)}
    )
    assert sub.dead_letter_policy.dead_letter_topic == f"projects/{pubsub_emulator.project}/topics/{pubsub.DLQ_TOPIC}"
    assert sub.dead_letter_policy.max_delivery_attempts == pubsub.MAX_DELIVERY_ATTEMPTS
