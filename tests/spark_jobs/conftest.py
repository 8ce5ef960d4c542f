"""One SparkSession for every Spark test (session start costs ~7 s on a shared 2-core machine); the storage emulator
and buckets of the job's end-to-end tests in mirror mode."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.spark_jobs.helpers import CURATED

SPARK_JOBS = Path(__file__).resolve().parents[2] / "spark_jobs"
# The job's package is top-level ``obt_job`` (as in dist/spark_job.zip), not part of the ``obt`` package.
if str(SPARK_JOBS) not in sys.path:
    sys.path.insert(0, str(SPARK_JOBS))


@pytest.fixture(scope="session")
def spark() -> Iterator:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("obt-spark-job-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@dataclass(frozen=True)
class TaggerModel:
    """A review tagger trained by ``obt_tools.tagger`` as ``obt tagger train`` does, in a folder named after its
    version (the form ``--tagger-model`` takes)."""

    folder: Path
    version: str

    @property
    def uri(self) -> str:
        return self.folder.as_uri() + "/"


@pytest.fixture(scope="session")
def tagger_model(spark, tmp_path_factory: pytest.TempPathFactory) -> TaggerModel:
    """Fitted once per session on the tagger tests' labelled sample (its sentiment words do not overlap, so new
    texts made of them are called both ways) by ``obt_tools.tagger``, as ``train`` fits it on every row, and saved
    with a card holding the version ``train`` would give it. Without ``train``'s cross-validation, which the job's
    tests do not need: it made this fixture six times slower (~34 s against ~6 s)."""
    from obt_tools.tagger.card import CARD_NAME, code_sha256, model_version
    from obt_tools.tagger.crossval import labelled_frame
    from obt_tools.tagger.labels import read_labels
    from obt_tools.tagger.pipeline import build_pipeline, stage_params
    from tests.tagger.conftest import sample_rows, write_labels

    root = tmp_path_factory.mktemp("tagger")
    data = read_labels(write_labels(root / "labels.csv", sample_rows()))
    pipeline = build_pipeline()
    version = model_version(data.sha256, stage_params(pipeline), code_sha256(), spark.version)
    folder = root / version
    pipeline.fit(labelled_frame(spark, data)).write().save(str(folder))
    (folder / CARD_NAME).write_text(json.dumps({"model_version": version}))
    return TaggerModel(folder, version)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def storage_emulator(monkeypatch_module):
    """An in-memory storage emulator holding an empty curated bucket, for the module's job runs in mirror mode (they
    upload their outputs through it, and later builds find the classified layer there)."""
    from gcp_storage_emulator.server import create_server
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True)
    server.start()
    monkeypatch_module.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    client = storage.Client(project="obt-test", credentials=AnonymousCredentials())
    client.create_bucket(CURATED)
    yield client
    server.stop()
