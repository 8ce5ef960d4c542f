from __future__ import annotations

import pytest

from tests.on_raw_landed.stack import serve_dataproc


@pytest.fixture(scope="session")
def dataproc_endpoint(gcs_emulator, pubsub_emulator, tmp_path_factory):
    """URL of a real local Dataproc endpoint sharing the session's storage and Pub/Sub emulators."""
    yield from serve_dataproc(tmp_path_factory.mktemp("dataproc-on-raw-landed"))
