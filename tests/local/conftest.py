"""Fixtures for the local-cloud tests: a recording CloudEvent function and Eventarc stand-ins in front of it."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from google.cloud import pubsub_v1

from obt_tools.local import functions, procs, pubsub

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Recorder:
    url: str
    folder: Path

    def deliveries(self) -> list[dict]:
        return [json.loads(p.read_text()) for p in sorted(self.folder.glob("delivery-*.json"))]

    def wait_for(self, predicate: Callable[[dict], bool], count: int = 1, timeout: float = 60) -> list[dict]:
        """Deliveries matching ``predicate`` once there are at least ``count`` (fails the test otherwise)."""
        deadline = time.monotonic() + timeout
        while True:
            found = [d for d in self.deliveries() if predicate(d)]
            if len(found) >= count or time.monotonic() > deadline:
                return found
            time.sleep(0.2)


@pytest.fixture(scope="session")
def recorder(local_cloud_dir, tmp_path_factory) -> Iterator[Recorder]:
    folder = tmp_path_factory.mktemp("recorded")
    service = functions.start_function(
        local_cloud_dir,
        "recorder",
        "record",
        "cloudevent",
        HERE / "recorder_function.py",
        {"RECORD_DIR": str(folder)},
        die_with_parent=True,
    )
    try:
        yield Recorder(service.url, folder)
    finally:
        procs.stop(service)


def _fresh_subscription(project: str, topic: str) -> str:
    subscriber = pubsub_v1.SubscriberClient()
    name = f"test-eventarc-{uuid.uuid4().hex[:10]}"
    subscriber.create_subscription(
        request={
            "name": subscriber.subscription_path(project, name),
            "topic": f"projects/{project}/topics/{topic}",
            "ack_deadline_seconds": pubsub.ACK_DEADLINE_SECONDS,
        }
    )
    return name


def start_standin(state_dir: Path, project: str, url: str, duplicates: int, name: str) -> tuple[procs.Service, str]:
    """An Eventarc stand-in routing fresh subscriptions (so earlier tests' messages stay out) to ``url``."""
    raw_sub = _fresh_subscription(project, pubsub.RAW_NOTIFICATIONS_TOPIC)
    build_sub = _fresh_subscription(project, "obt-build-complete")
    argv = [
        sys.executable,
        "-m",
        "obt_tools.local.eventarc",
        "--project",
        project,
        "--on-raw-landed-url",
        url,
        "--on-raw-landed-subscription",
        raw_sub,
        "--load-obt-url",
        url,
        "--load-obt-subscription",
        build_sub,
        "--duplicates",
        str(duplicates),
    ]
    service = procs.start(name, argv, state_dir, port=0, url="", env=dict(os.environ), die_with_parent=True)
    procs.wait_until(service, lambda: "eventarc stand-in running" in service.log_path.read_text(), 60, "running")
    return service, build_sub


@pytest.fixture(scope="session")
def eventarc(local_cloud_dir, gcs_emulator, pubsub_emulator, recorder) -> Iterator[tuple[procs.Service, str]]:
    service, build_subscription = start_standin(local_cloud_dir, pubsub_emulator.project, recorder.url, 1, "eventarc")
    try:
        yield service, build_subscription
    finally:
        procs.stop(service)
