"""Fixtures for the local Dataproc endpoint: a server on a free port, reached through ``obt.clients``."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from obt.clients import batch_client
from obt_tools.local.dataproc import DataprocServer, DataprocService

REGION = "us-central1"
PARENT = f"projects/obt-local/locations/{REGION}"


@contextmanager
def serving(service: DataprocService, *, run_batches: bool = True) -> Iterator[DataprocServer]:
    """Serve ``service`` on 127.0.0.1:<free port>; with ``run_batches=False`` batches stay PENDING."""
    server = DataprocServer("127.0.0.1", 0, service)
    if run_batches:
        thread = threading.Thread(target=server.serve, daemon=True)
    else:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if run_batches:
            server.close()
        else:
            server.shutdown()
            server.server_close()


def client_for(server: DataprocServer):
    # The production path: the same cached factory on_raw_landed and reconcile use.
    return batch_client(REGION, server.url)


@pytest.fixture(scope="module")
def running_endpoint(tmp_path_factory: pytest.TempPathFactory, gcs_emulator) -> Iterator[tuple[DataprocServer, Path]]:
    """An endpoint that runs batches, with the storage emulator in its environment; yields (server, state dir)."""
    state_dir = tmp_path_factory.mktemp("dataproc")
    with serving(DataprocService(state_dir, master="local[1]", driver_memory="512m")) as server:
        yield server, state_dir


@pytest.fixture
def idle_endpoint(tmp_path: Path) -> Iterator[tuple[DataprocServer, Path]]:
    """An endpoint whose queue is never worked: the API without any Spark run."""
    with serving(DataprocService(tmp_path), run_batches=False) as server:
        yield server, tmp_path
