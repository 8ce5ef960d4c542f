"""The on_raw_landed use case with an in-memory bucket and a recording Dataproc stand-in (no I/O)."""

from __future__ import annotations

import json
import logging
from dataclasses import replace

import pytest
from cloudevents.http import from_http

from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.log import JsonFormatter
from obt.services import Services
from obt.trigger.batches import Submission
from obt.trigger.service import on_raw_landed
from tests.events import corpus
from tests.on_raw_landed.builders import LOGS, MANIFEST, MOVIE, PARTS, RawBucket

SETTINGS = Settings()


class RecordingDataproc:
    """Answers like Dataproc: a new batch id is created, a known one is ALREADY_EXISTS (duplicate)."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.error = error

    def submit(self, plan) -> Submission:
        self.calls.append(plan.build_id)
        if self.error:
            raise self.error
        return Submission(plan.build_id, "duplicate" if self.calls.count(plan.build_id) > 1 else "submitted")


def _services(bucket, dataproc: RecordingDataproc) -> Services:
    return replace(Services.from_settings(SETTINGS), objects=bucket, batches=dataproc)


def _deliver(raw: RawBucket, dataproc: RecordingDataproc, name: str, **kwargs):
    obj = raw.objects.get(name)
    kwargs.setdefault("generation", obj.generation if obj else 1)
    kwargs.setdefault("size", obj.size if obj else 1)
    event = corpus.storage_finalized(name, **kwargs)
    return on_raw_landed(from_http(event.headers, event.body), SETTINGS, _services(raw, dataproc))


def _complete() -> RawBucket:
    bucket = RawBucket()
    bucket.put_snapshot()
    bucket.put(MOVIE)
    bucket.put(LOGS)
    return bucket


def test_same_event_three_times_submits_one_batch():
    bucket, dataproc = _complete(), RecordingDataproc()
    event = corpus.storage_finalized(LOGS, generation=bucket.objects[LOGS].generation)
    services = _services(bucket, dataproc)
    outcomes = [on_raw_landed(from_http(event.headers, event.body), SETTINGS, services).action for _ in range(3)]
    assert outcomes == ["submitted", "duplicate", "duplicate"]
    assert len(set(dataproc.calls)) == 1


@pytest.mark.parametrize(
    ("name", "kwargs", "reason"),
    [
        (MOVIE, {"bucket": "someone-elses-bucket"}, "is not the raw bucket"),
        (MOVIE, {"size": 0}, "zero-byte object"),
        ("movie_review/notes.txt", {}, "not a purchase snapshot manifest or a vendor file"),
        ("exports/whatever.csv", {}, "not a purchase snapshot manifest or a vendor file"),
        (PARTS[0], {}, "snapshot parts do not trigger"),
        ("customers/ingest_date=2026-11-23/run_id=r1/_MANIFEST.json", {}, "does not feed the OBT"),
    ],
)
def test_non_triggers_are_ignored_with_the_reason(name, kwargs, reason, caplog):
    bucket, dataproc = _complete(), RecordingDataproc()
    with caplog.at_level(logging.INFO):
        outcome = _deliver(bucket, dataproc, name, **kwargs)
    assert outcome.action == "ignored" and reason in outcome.reason
    assert dataproc.calls == []
    assert any(getattr(r, "fields", {}).get("action") == "ignored" for r in caplog.records)


def test_unparsable_path_is_rejected_not_retried():
    bucket, dataproc = _complete(), RecordingDataproc()
    outcome = _deliver(bucket, dataproc, "movie_review/ingest_date=2026-02-30/movie_review.csv")
    assert outcome.action == "rejected" and "unparsable object name" in outcome.reason
    assert dataproc.calls == []


def test_malformed_event_is_rejected_and_logged(caplog):
    bucket, dataproc = _complete(), RecordingDataproc()
    event = corpus.storage_finalized(MOVIE, data_overrides={"generation": None})
    with caplog.at_level(logging.ERROR):
        outcome = on_raw_landed(from_http(event.headers, event.body), SETTINGS, _services(bucket, dataproc))
    assert outcome.action == "rejected" and "'generation'" in outcome.reason
    record = next(r for r in caplog.records if r.levelno == logging.ERROR)
    assert record.fields["event_id"] == event.attributes["id"]


def test_waiting_names_what_is_missing():
    bucket, dataproc = RawBucket(), RecordingDataproc()
    bucket.put(MOVIE)
    outcome = _deliver(bucket, dataproc, MOVIE)
    assert outcome.action == "waiting"
    assert any("user_purchase snapshot" in m for m in outcome.missing)
    assert any(m.startswith("log_reviews/ingest_date=2026-11-23/") for m in outcome.missing)
    assert dataproc.calls == []


def test_vendor_files_before_and_after_the_manifest_lead_to_one_build():
    bucket, dataproc = RawBucket(), RecordingDataproc()
    outcomes = []
    bucket.put(MOVIE)
    outcomes.append(_deliver(bucket, dataproc, MOVIE).action)
    for part in PARTS:
        bucket.put(part)
    from tests.on_raw_landed.builders import SNAPSHOT, manifest_document

    bucket.put(MANIFEST, document=manifest_document(SNAPSHOT, PARTS))
    outcomes.append(_deliver(bucket, dataproc, MANIFEST).action)
    bucket.put(LOGS)
    outcomes.append(_deliver(bucket, dataproc, LOGS).action)
    # Late redeliveries of the earlier events change nothing.
    outcomes.append(_deliver(bucket, dataproc, MANIFEST).action)
    outcomes.append(_deliver(bucket, dataproc, MOVIE).action)
    assert outcomes == ["waiting", "waiting", "submitted", "duplicate", "duplicate"]
    assert len(set(dataproc.calls)) == 1


def test_transient_failures_propagate_so_the_event_is_redelivered():
    bucket = _complete()
    with pytest.raises(TransientError):
        _deliver(bucket, RecordingDataproc(TransientError("503 from Dataproc")), LOGS)

    class Down:
        def list_objects(self, bucket, prefix):
            raise TransientError("listing 503")

    event = corpus.storage_finalized(LOGS)
    with pytest.raises(TransientError, match="listing 503"):
        on_raw_landed(from_http(event.headers, event.body), SETTINGS, _services(Down(), RecordingDataproc()))


def test_listing_that_lags_the_event_is_retried():
    bucket = _complete()
    with pytest.raises(TransientError, match="event announced"):
        _deliver(bucket, RecordingDataproc(), LOGS, generation=bucket.objects[LOGS].generation + 1)


def test_request_dataproc_refuses_is_rejected_not_retried():
    bucket = _complete()
    outcome = _deliver(bucket, RecordingDataproc(PermanentError("Dataproc rejected batch: 400")), LOGS)
    assert outcome.action == "rejected" and "400" in outcome.reason


def test_log_line_is_structured_json(caplog):
    bucket, dataproc = _complete(), RecordingDataproc()
    with caplog.at_level(logging.INFO):
        _deliver(bucket, dataproc, LOGS)
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records]
    submitted = [line for line in lines if line.get("action") == "submitted"]
    assert submitted and submitted[0]["build_id"] == dataproc.calls[0]
    assert submitted[0]["object"] == LOGS and submitted[0]["severity"] == "INFO"
