"""Shared session fixtures: real local services, started once per test session and stopped at the end.

- ``postgres`` -> ``obt_tools.local.postgres.PostgresInfo``: a throwaway PostgreSQL 15 cluster on 127.0.0.1.
  Attributes ``host, port, user, password, database``; ``env()`` -> the ``OBT_PG_*`` variables;
  ``connect(database=None, timeout=None)`` -> a pg8000 DB-API connection (close it). Sets no environment variables.
- ``pubsub_emulator`` -> ``PubSubEmulator``: Google's emulator with every topic/subscription of
  ``obt_tools.local.pubsub`` (``obt-build-complete``, its DLQ, ``obt-raw-notifications``, ``eventarc-*``).
  Attributes ``host`` (``127.0.0.1:PORT``), ``port``, ``project``; ``env()``. Sets ``PUBSUB_EMULATOR_HOST``
  for the whole session.
- ``gcs_emulator`` -> ``GcsEmulator``: fake-gcs-server with buckets ``obt-raw`` and ``obt-curated``; every
  object finalized in ``obt-raw`` is published to ``obt-raw-notifications`` (so it also starts
  ``pubsub_emulator``). Attributes ``url`` (``http://127.0.0.1:PORT``), ``port``, ``project``,
  ``raw_bucket``, ``curated_bucket``; ``env()``. Sets ``STORAGE_EMULATOR_HOST`` for the whole session.

The project is ``obt-local`` (``Settings`` default), so ``Settings.from_env()`` needs no extra variables.
Services are shared by the session: use unique object names, topics or tables per test. The cached
clients of ``obt.clients`` are reset whenever an emulator variable changes, and the settings the functions
cache (``obt.config.settings()``) around every test, so each test's function calls see its environment.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from obt import clients, config
from obt.config import Settings
from obt_tools.local import gcs, procs, pubsub
from obt_tools.local import postgres as pg

PROJECT = Settings.project
RAW_BUCKET = Settings.raw_bucket
CURATED_BUCKET = Settings.curated_bucket


@dataclass(frozen=True)
class PubSubEmulator:
    host: str
    port: int
    project: str = PROJECT

    def env(self) -> dict[str, str]:
        return {"PUBSUB_EMULATOR_HOST": self.host, "OBT_PROJECT": self.project}


@dataclass(frozen=True)
class GcsEmulator:
    url: str
    port: int
    project: str = PROJECT
    raw_bucket: str = RAW_BUCKET
    curated_bucket: str = CURATED_BUCKET

    def env(self) -> dict[str, str]:
        return {
            "STORAGE_EMULATOR_HOST": self.url,
            "OBT_PROJECT": self.project,
            "OBT_RAW_BUCKET": self.raw_bucket,
            "OBT_CURATED_BUCKET": self.curated_bucket,
        }


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    config.reset()
    yield
    config.reset()


@pytest.fixture(scope="session")
def local_cloud_dir(tmp_path_factory: pytest.TempPathFactory):
    """One state folder (logs, data, pid records) for the session's local services."""
    return procs.ensure_state_dir(tmp_path_factory.mktemp("localcloud"))


@pytest.fixture(scope="session")
def postgres(local_cloud_dir) -> Iterator[pg.PostgresInfo]:
    service, info = pg.start_postgres(local_cloud_dir, die_with_parent=True)
    try:
        yield info
    finally:
        procs.stop(service)
        pg.remove_fallback(local_cloud_dir)


@pytest.fixture(scope="session")
def pubsub_emulator(local_cloud_dir) -> Iterator[PubSubEmulator]:
    service = pubsub.start_pubsub(local_cloud_dir, PROJECT, die_with_parent=True)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("PUBSUB_EMULATOR_HOST", service.url)
            clients.reset()
            yield PubSubEmulator(service.url, service.port)
    finally:
        clients.reset()
        procs.stop(service)


@pytest.fixture(scope="session")
def gcs_emulator(local_cloud_dir, pubsub_emulator: PubSubEmulator) -> Iterator[GcsEmulator]:
    service = gcs.start_gcs(
        local_cloud_dir,
        PROJECT,
        (RAW_BUCKET, CURATED_BUCKET),
        pubsub_host=pubsub_emulator.host,
        notify_bucket=RAW_BUCKET,
        notify_topic=pubsub.RAW_NOTIFICATIONS_TOPIC,
        die_with_parent=True,
    )
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("STORAGE_EMULATOR_HOST", service.url)
            clients.reset()
            yield GcsEmulator(service.url, service.port)
    finally:
        clients.reset()
        procs.stop(service)
