"""Real local services for this area's end-to-end tests: the local Dataproc endpoint and scratch buckets."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from obt import clients
from obt_tools.local.dataproc.server import DataprocServer, DataprocService

NOOP_JOB = "print('noop OBT job: exits 0 without writing anything')\n"
TERMINAL = ("SUCCEEDED", "FAILED", "CANCELLED")


def serve_dataproc(state_dir: Path) -> Iterator[str]:
    """The local Dataproc endpoint (real REST server, spark-submit runner) in this process; yields its URL.

    Created after the emulator fixtures so that its drivers inherit their environment variables.
    """
    service = DataprocService(state_dir, max_concurrent=1, master="local[1]", driver_memory="512m")
    server = DataprocServer("127.0.0.1", 0, service)
    thread = threading.Thread(target=server.serve, name="local-dataproc", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.close()
        thread.join(timeout=30)


def scratch_bucket(project: str, label: str) -> str:
    """A fresh bucket in the storage emulator, so a test's listing holds only its own objects."""
    name = f"obt-{label}-{uuid.uuid4().hex[:10]}"
    clients.storage_client(project).create_bucket(name)
    return name


def wait_for_batch(client, name: str, timeout_s: float = 300.0):
    """GetBatch until the batch ends (the endpoint runs spark-submit; no timing is asserted)."""
    deadline = time.monotonic() + timeout_s
    while True:
        batch = client.get_batch(name=name)
        if batch.state.name in TERMINAL or time.monotonic() > deadline:
            return batch
        time.sleep(0.5)
