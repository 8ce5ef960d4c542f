"""Reconcile's decisions for an announced build, and how one run reads the ledger (no I/O: in-memory ports)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from obt.config import ConfigError, Settings
from obt.errors import TransientError
from obt.reconcile.service import follow_up, handle_request, reconcile
from obt.services import Services
from obt.trigger.batches import EndedBatch
from obt.warehouse.base import NO_LEDGER, LedgerSummary
from obt_contract.layout import build_manifest_name, build_marker_name, gs_uri
from obt_contract.message import CompletionMessage

BUCKET = "cur"
# The HTTP handler reads the clock itself: markers are written relative to it.
NOW = datetime.now(UTC).replace(microsecond=0)
GRACE = timedelta(minutes=30)
BUILD = "obt-" + "1" * 20


def marker(minutes_ago: float) -> dict[str, Any]:
    return {"message_id": "1", "published_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(), "status": "x"}


def manifest(status: str = "succeeded", watermark: int = 100) -> dict[str, Any]:
    reason = None if status == "succeeded" else "too many quarantined rows"
    return {"build_id": BUILD, "status": status, "reason": reason, "input_watermark": watermark}


def ledger(*outcomes: str, last: int | None = None) -> LedgerSummary:
    return LedgerSummary({BUILD: frozenset(outcomes)} if outcomes else {}, last)


LATE = marker(31)
CASES = {
    "loaded": ("SUCCEEDED", LATE, manifest(), ledger("loaded", last=100), "recorded", "records it: loaded"),
    "skipped after a failed attempt": ("SUCCEEDED", LATE, manifest(), ledger("failed", "skipped"), "recorded", ""),
    "rejected": ("SUCCEEDED", LATE, manifest(), ledger("rejected"), "recorded", "rejected"),
    "only failed attempts": ("SUCCEEDED", LATE, manifest(), ledger("failed", last=50), "republished", "only failed"),
    "newer, no row": ("SUCCEEDED", LATE, manifest(), ledger(last=50), "republished", "no outcome in the load ledger"),
    "no ledger yet": ("SUCCEEDED", LATE, manifest(), NO_LEDGER, "republished", "published 31 min ago"),
    # The loader's rule: equal watermarks load, only an older build is skipped.
    "equal watermark": ("SUCCEEDED", LATE, manifest(), ledger(last=100), "republished", ""),
    "older, no row": ("SUCCEEDED", LATE, manifest(), ledger(last=200), "superseded", "older than the last loaded"),
    "within the grace period": ("SUCCEEDED", marker(29), manifest(), ledger(last=50), "waiting", "within the 30 min"),
    "grace just over": ("SUCCEEDED", marker(30), manifest(), ledger(last=50), "republished", ""),
    "failed build, however old": ("SUCCEEDED", LATE, manifest("failed", 1), ledger(last=200), "republished", ""),
    "driver died before the manifest": ("FAILED", LATE, None, ledger(last=200), "republished", ""),
    "marker says not when": ("SUCCEEDED", {}, manifest(), ledger(last=50), "republished", "says not when"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_what_an_announced_build_needs(case):
    state, mark, doc, summary, action, reason = case
    batch = EndedBatch(BUILD, state, "Driver OOM", None)
    got, message, why = follow_up(batch, mark, doc, summary, BUCKET, GRACE, NOW)
    assert (got, reason in why) == (action, True), why
    if action != "republished":
        assert message is None
        return
    uri = gs_uri(BUCKET, build_manifest_name(BUILD))
    if doc is None:
        assert message == CompletionMessage(BUILD, uri, "failed", "batch FAILED: Driver OOM")
    else:
        assert message == CompletionMessage(BUILD, uri, doc["status"], doc["reason"])


# -- one run, on in-memory ports ---------------------------------------------------------------------------------


class MemoryObjects:
    def __init__(self, docs: Mapping[str, dict[str, Any]]) -> None:
        self.docs = dict(docs)

    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None:
        return self.docs.get(uri)

    def create_json(self, uri: str, body: Mapping[str, Any]) -> bool:
        if uri in self.docs:
            return False
        self.docs[uri] = dict(body)
        return True


class Publisher:
    def __init__(self) -> None:
        self.sent: list[tuple[CompletionMessage, str]] = []

    def publish(self, message: CompletionMessage, origin: str) -> str:
        self.sent.append((message, origin))
        return str(len(self.sent))


class Batches:
    def __init__(self, batches: list[EndedBatch]) -> None:
        self.batches = batches

    def ended_since(self, since: datetime) -> list[EndedBatch]:
        return self.batches


class Ledger:
    """A warehouse that answers ``ledger_summary`` only, and records what it was asked."""

    def __init__(self, summary: LedgerSummary | Exception) -> None:
        self.summary = summary
        self.asked: list[list[str]] = []

    def ledger_summary(self, build_ids: list[str]) -> LedgerSummary:
        self.asked.append(build_ids)
        if isinstance(self.summary, Exception):
            raise self.summary
        return self.summary


FRESH, STALE, DONE = (f"obt-{c * 20}" for c in "abc")
SETTINGS = Settings(curated_bucket=BUCKET)


def world(ledger_answer: LedgerSummary | Exception) -> tuple[Services, MemoryObjects, Publisher, Ledger]:
    """FRESH ended without a marker; STALE was announced 2 hours ago and never loaded; DONE is in the ledger."""
    objects = MemoryObjects(
        {
            gs_uri(BUCKET, build_manifest_name(STALE)): {**manifest(), "build_id": STALE},
            gs_uri(BUCKET, build_marker_name(STALE)): marker(120),
            gs_uri(BUCKET, build_marker_name(DONE)): marker(120),
        }
    )
    publisher, warehouse = Publisher(), Ledger(ledger_answer)
    batches = Batches([EndedBatch(b, "SUCCEEDED" if b != FRESH else "FAILED", "", None) for b in (FRESH, STALE, DONE)])
    services = Services(objects=objects, publisher=publisher, batches=batches, warehouse=lambda: warehouse)
    return services, objects, publisher, warehouse


def test_one_run_publishes_the_missing_and_the_dead_lettered_and_reads_the_ledger_once():
    services, objects, publisher, warehouse = world(LedgerSummary({DONE: frozenset({"loaded"})}, 100))
    actions = {a.build_id: a for a in reconcile(SETTINGS, services, now=lambda: NOW)}
    assert {b: a.action for b, a in actions.items()} == {FRESH: "published", STALE: "republished", DONE: "recorded"}
    assert all(a.reason for a in actions.values()), "every action says why"
    assert [(m.build_id, m.status, origin) for m, origin in publisher.sent] == [
        (FRESH, "failed", "reconcile"),
        (STALE, "succeeded", "reconcile"),
    ]
    assert objects.docs[gs_uri(BUCKET, build_marker_name(FRESH))]["message_id"] == actions[FRESH].message_id
    assert objects.docs[gs_uri(BUCKET, build_marker_name(STALE))] == marker(120), "the job's marker stays"
    assert warehouse.asked == [sorted([STALE, DONE])]

    # Ten minutes later: FRESH is announced and waits for its grace period; STALE is still due, DONE still done.
    later = {a.build_id: a.action for a in reconcile(SETTINGS, services, now=lambda: NOW + timedelta(minutes=10))}
    assert later == {FRESH: "waiting", STALE: "republished", DONE: "recorded"}
    assert [m.build_id for m, _ in publisher.sent[2:]] == [STALE]


def test_nothing_announced_means_the_warehouse_is_never_opened():
    services, _, publisher, _ = world(NO_LEDGER)
    opened = []

    def no_warehouse():
        opened.append("warehouse")
        raise RuntimeError("no warehouse here")

    only_fresh = Services(services.objects, publisher, Batches(services.batches.batches[:1]), no_warehouse)
    [action] = reconcile(SETTINGS, only_fresh, now=lambda: NOW)
    assert action.action == "published" and opened == []


def test_an_unreadable_ledger_fails_the_announced_builds_only_and_answers_500():
    services, _, publisher, _ = world(TransientError("BigQuery query failed: 503"))
    actions = {a.build_id: a for a in reconcile(SETTINGS, services, now=lambda: NOW)}
    assert actions[FRESH].action == "published"
    for build in (STALE, DONE):
        assert actions[build].action == "error"
        assert actions[build].reason == "reading the load ledger failed: BigQuery query failed: 503"
    assert [m.build_id for m, _ in publisher.sent] == [FRESH]
    services, _, _, _ = world(TransientError("down"))
    body, status = handle_request({}, SETTINGS, services)
    assert status == 500 and {a["action"] for a in body["actions"]} == {"published", "error"}


def test_dry_run_and_grace_from_the_request():
    services, objects, publisher, _ = world(LedgerSummary({}, None))
    before = dict(objects.docs)
    body, status = handle_request({"dry_run": True, "grace_minutes": 0}, SETTINGS, services)
    assert status == 200
    assert {a["build_id"]: a["action"] for a in body["actions"]} == {
        FRESH: "would_publish",
        STALE: "would_republish",
        DONE: "would_republish",
    }
    assert publisher.sent == [] and objects.docs == before
    # A grace period longer than STALE's two hours: nothing is due yet.
    body, _ = handle_request({"dry_run": True, "grace_minutes": 180}, SETTINGS, services)
    assert {a["build_id"]: a["action"] for a in body["actions"]}[STALE] == "waiting"


def test_the_grace_setting():
    assert Settings.from_env({}).reconcile_grace_minutes == 30
    assert Settings.from_env({"OBT_RECONCILE_GRACE_MINUTES": "0"}).reconcile_grace_minutes == 0
    with pytest.raises(ConfigError, match="OBT_RECONCILE_GRACE_MINUTES must be 0 or more"):
        Settings.from_env({"OBT_RECONCILE_GRACE_MINUTES": "-5"})
