"""Acceptance: builds announced on the real Pub/Sub emulator, pushed to ``load_obt`` served by
functions-framework (a real process), read from the storage emulator, loaded into DuckDB.

Each test publishes with ``obt_tools.backfill.publish`` (what ``obt backfill`` does) on a topic of its own,
with a push subscription to the served function, and waits for the ledger to show the outcome.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from obt import clients
from obt.config import Settings
from obt.services import Services
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools import backfill
from obt_tools.local.procs import free_port, tcp_open
from tests.load_obt.builds import build_id, upload_build
from tests.warehouse.obt_rows import KEY, change, key, make_rows

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
WATERMARKS = itertools.count(1_000)


class Loader:
    def __init__(self, settings: Settings, tmp: Path, url: str) -> None:
        self.settings = settings
        self.tmp = tmp
        self.url = url
        self.warehouse = DuckDbWarehouse(settings)
        self.services = Services.from_settings(settings)

    def upload(self, label: str, rows: list[dict], watermark: int | None = None) -> str:
        build = build_id(f"{label}-{uuid.uuid4()}")
        upload_build(self.settings, self.tmp, build, rows, next(WATERMARKS) if watermark is None else watermark)
        return build

    def publish(self, build: str) -> str:
        return backfill.publish(self.settings, self.services, backfill.for_build(self.settings, self.services, build))

    def ledger(self, build: str) -> list[dict]:
        if not Path(self.settings.warehouse_path).exists():
            return []
        return self.warehouse.query(
            "SELECT * FROM obt_ops.load_ledger WHERE build_id = @b ORDER BY finished_at", {"b": build}
        )

    def wait_for(self, build: str, count: int, timeout: float = 120.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.ledger(build)
            if len(rows) >= count:
                time.sleep(1.0)  # a straggling extra delivery would show up here
                return self.ledger(build)
            time.sleep(0.3)
        raise AssertionError(f"ledger of {build} has {self.ledger(build)} after {timeout}s")

    def load(self, label: str, rows: list[dict]) -> str:
        build = self.upload(label, rows)
        self.publish(build)
        assert [r["outcome"] for r in self.wait_for(build, 1)] == ["loaded"]
        return build

    def table(self) -> list[dict]:
        return self.warehouse.query(f"SELECT * FROM movie_analytics.obt ORDER BY {', '.join(KEY)}")


def data_only(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("build_id", "loaded_at")} for r in rows]


def expected(rows: list[dict]) -> list[dict]:
    return [r for _, r in sorted(((key(r), r) for r in rows), key=lambda kv: tuple((v is None, v) for v in kv[0]))]


@pytest.fixture(scope="module")
def loader(gcs_emulator, pubsub_emulator, tmp_path_factory):
    from google.cloud import pubsub_v1

    tmp = tmp_path_factory.mktemp("load_obt_acceptance")
    topic = f"obt-build-complete-acc-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        **gcs_emulator.env(),
        **pubsub_emulator.env(),
        "OBT_ENV": "local",
        "OBT_STATE_DIR": str(tmp / "state"),
        "OBT_BUILD_TOPIC": topic,
        "OBT_FAULT": "after_staging",
        "OBT_FAULT_TOKEN": str(tmp / "fault-token"),
        "THREADS": "4",
    }
    env.pop("OBT_WAREHOUSE_PATH", None)
    with open(tmp / "functions-framework.log", "wb") as log:
        server = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("functions-framework")),
                "--target=load_obt",
                f"--source={REPO / 'functions' / 'load_obt' / 'main.py'}",
                "--signature-type=http",
                "--host=127.0.0.1",
                f"--port={port}",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while not tcp_open(port):
                assert server.poll() is None, (tmp / "functions-framework.log").read_text()
                assert time.monotonic() < deadline, "functions-framework did not start"
                time.sleep(0.2)
            settings = Settings.from_env({k: v for k, v in env.items() if k != "OBT_FAULT"})
            clients.publisher_client().create_topic(name=settings.topic_path)
            subscription = f"projects/{settings.project}/subscriptions/{topic}-push"
            pubsub_v1.SubscriberClient().create_subscription(
                request={
                    "name": subscription,
                    "topic": settings.topic_path,
                    "push_config": {"push_endpoint": f"http://127.0.0.1:{port}/"},
                    "ack_deadline_seconds": 60,
                }
            )
            yield Loader(settings, tmp, f"http://127.0.0.1:{port}/")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=20)


def test_loading_a_build_gives_exactly_its_rows(loader):
    rows = make_rows(800, seed=11)
    build = loader.load("exact", rows)
    table = loader.table()
    assert data_only(table) == expected(rows)
    assert {r["build_id"] for r in table} == {build}
    (entry,) = loader.ledger(build)
    assert (entry["rows_inserted"], entry["rows_staged"]) == (len(table), 800)


def test_same_message_three_times_concurrently_loads_once(loader):
    rows = make_rows(600, seed=12)
    build = loader.upload("triple", rows)
    threads = [threading.Thread(target=loader.publish, args=(build,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ledger = loader.wait_for(build, 3)
    assert sorted(r["outcome"] for r in ledger) == ["loaded", "skipped", "skipped"]
    assert {r["reason"] for r in ledger if r["outcome"] == "skipped"} == {"already loaded"}
    assert len({r["message_id"] for r in ledger}) == 3
    assert data_only(loader.table()) == expected(rows)


def test_one_event_delivered_three_times_concurrently_loads_once(loader):
    """At-least-once duplicates share the event id: Eventarc's binary-mode POSTs, three at once."""
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from obt_tools.local.eventarc import Message, deliver, pubsub_event

    rows = make_rows(400, seed=17)
    build = loader.upload("duplicate-event", rows)
    announcement = backfill.for_build(loader.settings, loader.services, build)
    message = Message(announcement.data, {}, f"dup-{uuid.uuid4().hex[:6]}", datetime.now(UTC))
    event = pubsub_event(loader.settings.project, loader.settings.build_topic, "eventarc-load-obt", message)
    with ThreadPoolExecutor(3) as pool:
        statuses = list(pool.map(lambda _: deliver(loader.url, event, timeout=120), range(3)))
    assert statuses == [200, 200, 200]
    ledger = loader.ledger(build)
    assert sorted(r["outcome"] for r in ledger) == ["loaded", "skipped", "skipped"]
    assert {r["message_id"] for r in ledger} == {message.message_id}
    assert data_only(loader.table()) == expected(rows)


def test_newer_build_changing_one_percent_updates_exactly_those(loader):
    rows = make_rows(2000, seed=13)
    loader.load("base", rows)
    before = {key(r): r for r in loader.table()}
    newer, changed, vanished = change(rows, 0.01, seed=5)
    second = loader.load("one-percent", newer)
    (entry,) = loader.ledger(second)
    assert (entry["rows_updated"], entry["rows_deleted"], entry["rows_inserted"]) == (20, 20, 20)
    after = {key(r): r for r in loader.table()}
    assert data_only(loader.table()) == expected(newer)
    assert not vanished & after.keys()
    inserted = after.keys() - before.keys()
    assert {k for k, r in after.items() if r["build_id"] == second} == changed | inserted
    # Untouched rows keep everything, including the build_id and loaded_at of the load that last changed them.
    assert all(after[k] == before[k] for k in after.keys() - changed - inserted)


def test_older_build_after_a_newer_one_is_skipped(loader):
    older = loader.upload("older", make_rows(50, seed=14), watermark=1)
    newer_rows = make_rows(70, seed=15)
    loader.load("newer", newer_rows)
    loader.publish(older)
    (entry,) = loader.wait_for(older, 1)
    assert entry["outcome"] == "skipped" and "older than the last loaded build" in entry["reason"]
    assert data_only(loader.table()) == expected(newer_rows)


def test_crash_between_staging_and_merge_recovers_on_redelivery(loader):
    base = make_rows(1000, seed=16)
    loader.load("before-crash", base)
    newer, _, _ = change(base, 0.01, seed=6)
    build = loader.upload("crash", newer)
    (loader.tmp / "fault-token").touch()  # the served function crashes once, after staging
    loader.publish(build)
    ledger = loader.wait_for(build, 2)
    assert [r["outcome"] for r in ledger] == ["failed", "loaded"]
    assert "InjectedFault" in ledger[0]["reason"]
    assert not (loader.tmp / "fault-token").exists()
    table = loader.table()
    assert len({key(r) for r in table}) == len(table) == len(newer)
    assert data_only(table) == expected(newer)
