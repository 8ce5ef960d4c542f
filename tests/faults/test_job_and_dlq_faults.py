"""Exactly once under real faults, at the Spark job's boundaries and at the dead-letter queue (no Spark).

Real parts: the session's storage and Pub/Sub emulators, with production's topics and subscriptions in a project of
each test's own (``obt_tools.local.pubsub.create_resources``: ``eventarc-load-obt`` dead-letters to
``obt-build-complete-dlq`` after ``MAX_DELIVERY_ATTEMPTS``); the real ``load_obt`` function (functions-framework,
served in this process) loading into a DuckDB ledger and OBT of the test's own; deliveries by the Eventarc
stand-in's own code (``Dispatcher.handle``: ack on 2xx, nack otherwise), with its backoff set to 0 so a retry
budget runs out in milliseconds. Fake: only the Dataproc batch list (the ``Batches`` port), which says how each
driver ended. Builds are synthetic (``tests/load_obt/builds.py``).

- A driver that died before its manifest, between the manifest and the publish, or between the publish and the
  marker: reconcile, run three times with deliveries in between, ends with exactly one load of the build (or one
  ledger row saying why it failed), no duplicate effect, nothing left in the subscriptions for an operator.
- load_obt down past the retry budget, then back: with no manual step (reconcile after the grace period, 0 here)
  the OBT reaches the newest build. ``obt dlq list|replay`` show and replay the dead letters, idempotently, and a
  dead letter is acknowledged only once its replay is published.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from functions_framework import create_app
from google.api_core import exceptions as gexc
from werkzeug.serving import make_server

from obt import clients
from obt.config import Settings
from obt.reconcile.service import Action, reconcile
from obt.services import Services
from obt.trigger.batches import EndedBatch
from obt.warehouse.base import data_columns
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_contract.layout import build_marker_name, gs_uri
from obt_tools import backfill, dlq
from obt_tools.cli import main as cli_main
from obt_tools.local import eventarc, functions, pubsub
from obt_tools.local.procs import free_port
from obt_tools.status import collect
from tests.load_obt.builds import build_id, upload_build
from tests.warehouse.obt_rows import make_rows

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
JOB = "job"  # the origin the Spark job publishes with
# How long an empty pull waits: the emulator holds it until about a second before the deadline, and answers at once
# when a message is (or becomes) there.
WAIT = 1.5


@dataclass
class EndedBatches:
    """The ``Batches`` port as ``reconcile`` reads it: how each build's driver ended."""

    ended: list[EndedBatch] = field(default_factory=list)

    def ended_since(self, since: datetime) -> list[EndedBatch]:
        return list(self.ended)

    def active_since(self, since: datetime) -> list[EndedBatch]:
        return []


@dataclass
class Cloud:
    settings: Settings
    services: Services
    batches: EndedBatches
    warehouse: DuckDbWarehouse
    dispatcher: eventarc.Dispatcher
    route: eventarc.Route
    loader_url: str
    tmp: Path

    # -- the job ------------------------------------------------------------------------------------------------

    def build(self, label: str, rows: list[dict[str, Any]], watermark: int, manifest: bool = True) -> str:
        """A build's output in the curated bucket (Parquet, then its manifest); none when the driver died first."""
        build = build_id(f"{label}-{uuid.uuid4()}")
        if manifest:
            upload_build(self.settings, self.tmp, build, rows, watermark)
        return build

    def publish(self, build: str) -> str:
        """What the job publishes after its manifest (the same message ``obt backfill`` builds from it)."""
        message = backfill.for_build(self.settings, self.services, build).message
        return self.services.publisher.publish(message, JOB)

    def mark(self, build: str, message_id: str) -> None:
        body = {"message_id": message_id, "published_at": datetime.now(UTC).isoformat(), "status": "succeeded"}
        assert self.services.objects.create_json(gs_uri(self.settings.curated_bucket, build_marker_name(build)), body)

    def end(self, build: str, state: str = "SUCCEEDED", message: str = "") -> None:
        self.batches.ended.append(EndedBatch(build, state, message, None))

    def run_job(self, label: str, rows: list[dict[str, Any]], watermark: int) -> str:
        """A job that got all the way: manifest, message, marker."""
        build = self.build(label, rows, watermark)
        self.mark(build, self.publish(build))
        self.end(build)
        return build

    # -- Eventarc and load_obt ----------------------------------------------------------------------------------

    def deliver(self, up: bool = True) -> int:
        """Deliver what ``eventarc-load-obt`` holds until it is empty, to load_obt (``up``) or to a closed port;
        a failed delivery is redelivered at once until the dead-letter policy moves the message on."""
        self.route.url = self.loader_url if up else f"http://127.0.0.1:{free_port()}/"
        path = f"projects/{self.settings.project}/subscriptions/{pubsub.LOAD_OBT_SUBSCRIPTION}"
        handled = 0
        while True:
            try:
                response = self.dispatcher.subscriber.pull(
                    request={"subscription": path, "max_messages": 10}, timeout=WAIT
                )
            except gexc.DeadlineExceeded:
                return handled
            if not response.received_messages:
                return handled
            for received in response.received_messages:
                msg = received.message
                message = eventarc.Message(bytes(msg.data), dict(msg.attributes), msg.message_id, msg.publish_time)
                self.dispatcher.handle(self.route, received.ack_id, message, int(received.delivery_attempt or 0))
                handled += 1

    def reconcile(self, **kwargs: Any) -> dict[str, Action]:
        return {a.build_id: a for a in reconcile(self.settings, self.services, **kwargs)}

    # -- what came of it ----------------------------------------------------------------------------------------

    def ledger(self, build: str) -> list[dict[str, Any]]:
        return self.warehouse.query(
            "SELECT outcome, reason, build_status FROM obt_ops.load_ledger WHERE build_id = @b ORDER BY finished_at",
            {"b": build},
        )

    def obt(self) -> list[tuple]:
        columns = ", ".join(data_columns())
        return sorted(self.warehouse.query(f"SELECT {columns} FROM movie_analytics.obt"), key=_row_key)

    def dead_letters(self) -> list[dlq.DeadLetter]:
        return dlq.list_dead_letters(self.settings, dlq.subscription_path(self.settings), WAIT)

    def status_of(self, build: str) -> dict[str, Any]:
        """The build's row in ``obt status``'s latest builds."""
        status = collect(self.settings, self.warehouse, self.services.objects, batches=self.batches)
        return next(b for b in status.builds or [] if b["build_id"] == build)


def _row_key(row: dict[str, Any]) -> tuple:
    return tuple((row[c] is None, str(row[c])) for c in data_columns())


def same_table(obt: list[dict[str, Any]], rows: list[dict[str, Any]]) -> bool:
    return obt == sorted(({c: r[c] for c in data_columns()} for r in rows), key=_row_key)


@pytest.fixture
def cloud(gcs_emulator, pubsub_emulator, tmp_path, monkeypatch) -> Iterator[Cloud]:
    project = f"flt-{uuid.uuid4().hex[:8]}"
    pubsub.create_resources(pubsub_emulator.host, project)
    for name, value in {
        "OBT_ENV": "local",
        "OBT_PROJECT": project,
        "OBT_CURATED_BUCKET": gcs_emulator.curated_bucket,
        "OBT_STATE_DIR": str(tmp_path),
        "OBT_WAREHOUSE_PATH": str(tmp_path / "warehouse.duckdb"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("OBT_WAREHOUSE", "OBT_BUILD_TOPIC", "OBT_FAULT", "OBT_RECONCILE_GRACE_MINUTES"):
        monkeypatch.delenv(name, raising=False)
    # Redeliver a failed delivery at once: the retry budget runs out in milliseconds instead of a minute.
    monkeypatch.setattr(eventarc, "backoff_seconds", lambda attempt: 0)
    settings = Settings.from_env()
    batches = EndedBatches()
    services = replace(Services.from_settings(settings), batches=batches)
    warehouse = DuckDbWarehouse(settings)
    warehouse.ensure_schema()
    spec = next(s for s in functions.FUNCTIONS if s.name == "load_obt")
    app = create_app(target=spec.target, source=str(spec.source(REPO)), signature_type=spec.signature)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="load_obt", daemon=True)
    thread.start()
    try:
        route = eventarc.Route("load_obt", pubsub.LOAD_OBT_SUBSCRIPTION, "", "pubsub", project, settings.build_topic)
        url = f"http://127.0.0.1:{server.server_port}/"
        yield Cloud(settings, services, batches, warehouse, eventarc.Dispatcher([route]), route, url, tmp_path)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        clients.reset()


# -- the job's crash boundaries ------------------------------------------------------------------------------------


def died_before_the_manifest(cloud: Cloud, rows: list[dict[str, Any]]) -> str:
    build = cloud.build("no-manifest", rows, 2, manifest=False)
    cloud.end(build, "FAILED", "Driver OOM killed")
    return build


def died_between_the_manifest_and_the_publish(cloud: Cloud, rows: list[dict[str, Any]]) -> str:
    build = cloud.build("no-message", rows, 2)
    cloud.end(build, "FAILED", "Driver preempted")
    return build


def died_between_the_publish_and_the_marker(cloud: Cloud, rows: list[dict[str, Any]]) -> str:
    build = cloud.build("no-marker", rows, 2)
    cloud.publish(build)
    cloud.end(build, "FAILED", "Driver preempted")
    return build


@pytest.mark.parametrize(
    "crash",
    [died_before_the_manifest, died_between_the_manifest_and_the_publish, died_between_the_publish_and_the_marker],
)
def test_a_crashed_driver_ends_in_exactly_one_load_or_one_reason(cloud, crash):
    before = make_rows(30, seed=1)
    cloud.run_job("before", before, 1)
    cloud.deliver()
    rows = make_rows(45, seed=2)
    build = crash(cloud, rows)

    runs = []
    for _ in range(3):
        runs.append(cloud.reconcile())
        cloud.deliver()

    assert runs[0][build].action == "published", runs[0][build]
    assert [run[build].action for run in runs[1:]] == ["recorded", "recorded"]
    ledger = cloud.ledger(build)
    if crash is died_before_the_manifest:
        assert [(r["outcome"], r["build_status"]) for r in ledger] == [("skipped", "failed")]
        assert "batch FAILED: Driver OOM killed" in ledger[0]["reason"]
        assert same_table(cloud.obt(), before)
    else:
        loads = [r for r in ledger if r["outcome"] == "loaded"]
        assert len(loads) == 1, ledger
        # The job's message and reconcile's both arrived: the second one changed nothing.
        assert [r["reason"] for r in ledger if r not in loads] == (
            ["already loaded"] if crash is died_between_the_publish_and_the_marker else []
        )
        assert same_table(cloud.obt(), rows)
        # The batch FAILED, yet the build is loaded: obt status says it was recovered, and how.
        row = cloud.status_of(build)
        assert row["status"] == "succeeded (recovered)", row
        assert row["reason"] == (
            "recovered: batch FAILED (Driver preempted) after its manifest was written; "
            "loaded from the message obt reconcile republished"
        )
    # Nothing for an operator: nothing due, nothing undelivered, nothing dead-lettered.
    assert {a.action for a in runs[-1].values()} == {"recorded"}
    assert cloud.deliver() == 0 and cloud.dead_letters() == []


# -- the dead-letter queue ---------------------------------------------------------------------------------------


def test_load_obt_down_past_its_retry_budget_then_back_reaches_the_newest_build_unattended(cloud, capsys):
    older = make_rows(40, seed=3)
    cloud.run_job("older", older, 10)
    assert cloud.deliver() == 1
    assert same_table(cloud.obt(), older)

    # load_obt is down: the newer build's message runs out of delivery attempts and is dead-lettered.
    newest = make_rows(60, seed=4)
    build = cloud.run_job("newest", newest, 20)
    assert cloud.deliver(up=False) == pubsub.MAX_DELIVERY_ATTEMPTS
    # Still down when reconcile comes by after the grace period: its republication dead-letters too.
    assert cloud.reconcile(grace=timedelta(0))[build].action == "republished"
    assert cloud.deliver(up=False) == pubsub.MAX_DELIVERY_ATTEMPTS
    letters = cloud.dead_letters()
    assert [(d.build_id, d.status, d.delivery_attempts) for d in letters] == [
        (build, "succeeded", pubsub.MAX_DELIVERY_ATTEMPTS)
    ] * 2
    assert [d.origin for d in letters] == [JOB, "reconcile"]

    # load_obt is back. Nothing is left to deliver, and the OBT is stale: the bug, until reconcile comes by.
    assert cloud.deliver() == 0 and cloud.ledger(build) == []
    assert same_table(cloud.obt(), older)
    runs = [cloud.reconcile(grace=timedelta(0))]
    assert {b: a.action for b, a in runs[0].items()} == {
        build: "republished",
        cloud.batches.ended[0].build_id: "recorded",
    }
    assert "no outcome in the load ledger" in runs[0][build].reason
    assert cloud.deliver() == 1
    assert same_table(cloud.obt(), newest)
    for _ in range(2):
        runs.append(cloud.reconcile(grace=timedelta(0)))
        assert {a.action for a in runs[-1].values()} == {"recorded"}
        assert cloud.deliver() == 0

    # The dead letters are still there for whoever wants to see them; replaying them changes nothing.
    assert cli_main(["dlq", "list", "--wait", str(WAIT)]) == 0
    out = capsys.readouterr().out
    assert out.count(f"{build}  succeeded") == 2 and "2 dead-lettered message(s)" in out
    assert cli_main(["dlq", "replay", "--wait", str(WAIT)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"replayed {build} (succeeded) to projects/{cloud.settings.project}/topics/")
    assert out[1].startswith(f"acknowledged {build} (succeeded): a copy of the one replayed as")
    assert cloud.deliver() == 1
    assert [r["outcome"] for r in cloud.ledger(build)] == ["loaded", "skipped"]
    assert same_table(cloud.obt(), newest)
    assert cloud.dead_letters() == []
    assert cli_main(["dlq", "replay", "--wait", str(WAIT)]) == 0
    assert "no dead-lettered messages in" in capsys.readouterr().out


def test_dlq_replay_loads_once_and_acknowledges_only_what_it_published(cloud, capsys):
    rows = make_rows(50, seed=5)
    build = cloud.run_job("replayed", rows, 30)
    cloud.deliver(up=False)
    # Something that is no completion message, dead-lettered as well: never replayed, never dropped.
    clients.publisher_client().publish(f"projects/{cloud.settings.project}/topics/{pubsub.DLQ_TOPIC}", b"{}").result()

    assert cli_main(["dlq", "list", "--json", "--wait", str(WAIT)]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["build_id"], d["status"], d["origin"], d["delivery_attempts"]) for d in listed] == [
        (build, "succeeded", JOB, pubsub.MAX_DELIVERY_ATTEMPTS),
        ("", "", "", None),
    ]
    assert "not a completion message" in listed[1]["problem"]

    # The build topic refuses: nothing is acknowledged, the dead letters stay as they were; one line, exit 2.
    class Refusing:
        def publish(self, message, origin):
            raise gexc.NotFound("Topic not found")

    refusing = replace(cloud.services, publisher=Refusing())
    report = dlq.replay(cloud.settings, refusing, dlq.subscription_path(cloud.settings), WAIT)
    assert "publishing" in report.error and "Topic not found" in report.error
    assert [r.outcome for r in report.results] == ["kept", "kept"]
    assert [d.message_id for d in cloud.dead_letters()] == [d["message_id"] for d in listed]
    assert cloud.deliver() == 0 and cloud.ledger(build) == []

    # Now it goes through: the completion message is replayed and loads; the other one stays (exit 1).
    assert cli_main(["dlq", "replay", "--wait", str(WAIT)]) == 1
    out = capsys.readouterr().out
    assert f"replayed {build} (succeeded)" in out and "kept message" in out
    assert cloud.deliver() == 1
    assert [r["outcome"] for r in cloud.ledger(build)] == ["loaded"]
    assert same_table(cloud.obt(), rows)
    assert [d.problem.startswith("not a completion message") for d in cloud.dead_letters()] == [True]


def test_dlq_errors_are_one_line(cloud, capsys):
    assert cli_main(["dlq", "list", "--subscription", "no-such-subscription"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("obt dlq: error: pulling projects/") and "no-such-subscription" in err
    assert err.count("\n") == 1
