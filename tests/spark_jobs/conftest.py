"""One SparkSession for every Spark test (session start costs ~7 s on a shared 2-core machine)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
