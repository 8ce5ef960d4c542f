"""``obt backfill``: which messages it builds, and that it publishes them to the (emulated) topic."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from obt.config import Settings
from obt.errors import UserError
from obt.services import Services
from obt_tools import backfill, cli
from tests.load_obt.builds import CURATED, LocalBuilds, build_id, manifest_uri, upload_build
from tests.warehouse.obt_rows import make_rows

SETTINGS = Settings(curated_bucket=CURATED)


class Objects(LocalBuilds):
    def manifest_uris(self, bucket):
        return list(self.docs)


@pytest.fixture
def objects(tmp_path):
    return Objects(tmp_path)


@pytest.fixture
def services(objects):
    return replace(Services.from_settings(SETTINGS), objects=objects)


def test_for_build_reads_the_status_from_the_manifest(objects, services):
    b = build_id("bf1")
    objects.add(b, [], watermark=1, status="failed")
    item = backfill.for_build(SETTINGS, services, b)
    assert json.loads(item.data) == {
        "build_id": b,
        "manifest_uri": manifest_uri(b),
        "status": "failed",
        "reason": "too many quarantined rows",
    }


def test_for_build_unknown_build_is_a_user_error(services):
    with pytest.raises(UserError, match="not found"):
        backfill.for_build(SETTINGS, services, build_id("missing"))
    with pytest.raises(UserError, match="build_id"):
        backfill.for_build(SETTINGS, services, "nonsense")


def test_for_manifest_checks_the_bucket(objects, services):
    b = build_id("bf2")
    objects.add(b, make_rows(3), watermark=1)
    assert backfill.for_manifest(SETTINGS, services, manifest_uri(b)).status == "succeeded"
    objects.docs["gs://elsewhere/obt/x/_MANIFEST.json"] = dict(objects.docs[manifest_uri(b)])
    with pytest.raises(UserError, match="outside the curated bucket"):
        backfill.for_manifest(SETTINGS, services, "gs://elsewhere/obt/x/_MANIFEST.json")


def test_since_orders_by_input_watermark_and_filters_by_day(objects, services):
    old, new, older = build_id("a"), build_id("b"), build_id("c")
    objects.add(new, make_rows(2), watermark=30)
    objects.add(old, make_rows(2), watermark=20)
    objects.add(older, make_rows(2), watermark=10)["created_at"] = "2020-01-01T00:00:00+00:00"
    assert [a.build_id for a in backfill.since(SETTINGS, services, date(2026, 11, 1))] == [old, new]


def test_gcloud_command_is_the_manual_equivalent(objects, services):
    b = build_id("bf3")
    objects.add(b, make_rows(2), watermark=1)
    commands = dict(backfill.equivalent_commands(SETTINGS, backfill.for_build(SETTINGS, services, b), Path(".obt")))
    assert commands["local"] == f"obt backfill --state-dir .obt --build-id {b}"
    assert commands["production"].startswith(
        "gcloud pubsub topics publish obt-build-complete --project PROJECT --message '{"
    )
    assert f'"build_id":"{b}"' in commands["production"]


def test_cli_publishes_to_the_emulator(gcs_emulator, pubsub_emulator, tmp_path, monkeypatch, capsys):
    from google.cloud import pubsub_v1

    topic = f"obt-build-complete-bf-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("OBT_ENV", "local")
    monkeypatch.setenv("OBT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("OBT_BUILD_TOPIC", topic)
    settings = Settings.from_env()
    publisher, subscriber = pubsub_v1.PublisherClient(), pubsub_v1.SubscriberClient()
    publisher.create_topic(name=settings.topic_path)
    subscription = f"projects/{settings.project}/subscriptions/{topic}-pull"
    subscriber.create_subscription(name=subscription, topic=settings.topic_path)
    b = build_id(f"cli-{uuid.uuid4()}")
    upload_build(settings, tmp_path, b, make_rows(5), watermark=7)

    assert cli.main(["backfill", "--build-id", b, "--dry-run"]) == 0
    assert "gcloud pubsub topics publish" in capsys.readouterr().out
    assert cli.main(["backfill", "--build-id", b]) == 0
    assert f"published {b} (succeeded)" in capsys.readouterr().out

    response = subscriber.pull(subscription=subscription, max_messages=10, timeout=30)
    bodies = [json.loads(m.message.data) for m in response.received_messages]
    assert bodies == [{"build_id": b, "manifest_uri": manifest_uri(b), "status": "succeeded"}]


def test_cli_unknown_build_is_one_line_error(gcs_emulator, pubsub_emulator, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("OBT_ENV", "local")
    monkeypatch.setenv("OBT_STATE_DIR", str(tmp_path / "state"))
    assert cli.main(["backfill", "--build-id", build_id("never-built")]) == 2
    assert "not found" in capsys.readouterr().err


class RecordingBatches:
    """The ``Batches`` port, keeping what was submitted."""

    def __init__(self) -> None:
        self.submitted = []

    def submit(self, plan):
        from obt.trigger.batches import Submission

        self.submitted.append(plan)
        return Submission(plan.build_id, "submitted")


def test_a_rebuild_submits_the_current_build_with_dates_classified_again_under_a_new_id():
    from obt.trigger.service import current_plan
    from tests.on_raw_landed.builders import LOGS, MOVIE, RawBucket

    bucket = RawBucket()
    bucket.put_snapshot()
    bucket.put(MOVIE)
    bucket.put(LOGS)
    batches = RecordingBatches()
    services = replace(Services.from_settings(Settings()), objects=bucket, batches=batches)
    current = current_plan(Settings(), services).build
    day = current.vendor_dates[0]

    every = backfill.rebuild_plan(Settings(), services, None)
    assert backfill.submit_rebuild(services, every).outcome == "submitted"
    one = backfill.rebuild_plan(Settings(), services, [day])
    backfill.submit_rebuild(services, one)

    assert [(p.full_rebuild, p.reclassify) for p in batches.submitted] == [(True, ()), (False, (day,))]
    assert all(p.inputs == current.inputs and p.build_id != current.build_id for p in batches.submitted)
    with pytest.raises(UserError, match="not a vendor date of this build: 2000-01-01"):
        backfill.rebuild_plan(Settings(), services, [date(2000, 1, 1)])
    # Nothing in the raw bucket: a user error naming what is missing, nothing submitted.
    empty = replace(services, objects=RawBucket())
    with pytest.raises(UserError, match="nothing to rebuild in gs://.*: missing a complete user_purchase snapshot"):
        backfill.rebuild_plan(Settings(), empty, None)
    assert len(batches.submitted) == 2
