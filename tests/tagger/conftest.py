"""One SparkSession for the tagger's Spark tests, and a small labelled sample to train on.

The sample is a few dozen short reviews whose sentiment words do not overlap, so a model fitted on it must score
new texts built from the same words the right way; it is written by ``write_labels`` as a real CSV file (quoted
fields with commas, quotes, newlines and HTML), so the tests go through the same reader as real labels.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

POSITIVE_WORDS = ("great", "wonderful", "excellent", "brilliant", "loved", "superb", "beautiful", "masterpiece")
NEGATIVE_WORDS = ("awful", "terrible", "boring", "waste", "worst", "dull", "horrible", "stupid")
SUBJECTS = ("the acting", "the plot", "the music")
FOLDS = 3


def sample_rows() -> list[tuple[str, str]]:
    """48 labelled reviews, half positive: each names a subject and two sentiment words of its class."""
    rows = []
    for label, words in (("positive", POSITIVE_WORDS), ("negative", NEGATIVE_WORDS)):
        for i, word in enumerate(words):
            for j, subject in enumerate(SUBJECTS):
                other = words[(i + j + 1) % len(words)]
                rows.append((f"{subject.capitalize()} was {word},<br /><br />truly {other}. Film #{i}{j}", label))
    return rows


def write_labels(path: Path, rows: list[tuple[str, str]], header: tuple[str, str] = ("review", "sentiment")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.fixture(scope="session")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_labels(tmp_path_factory.mktemp("labels") / "labels.csv", sample_rows())


@pytest.fixture(scope="session")
def spark() -> Iterator:
    # As tests/spark_jobs/conftest.py: local[2], loopback, no UI; getOrCreate shares one JVM with those tests.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("obt-tagger-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    # py4j logs "Closing down clientserver connection" at INFO from a finaliser at exit, when the stream that
    # ``obt``'s logging was set up with (pytest's capture) is already closed: a "Logging error" after the run.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    yield session
    session.stop()


@dataclass(frozen=True)
class Trained:
    out: Path
    card: dict
    stdout: str


@pytest.fixture(scope="session")
def trained(spark, sample_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """The sample trained once through the command line (``obt tagger train``), shared by the tests that read it."""
    from obt_tools.cli import main

    out = tmp_path_factory.mktemp("model") / "tagger"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main(["tagger", "train", "--labels", str(sample_file), "--out", str(out), "--folds", str(FOLDS)])
    assert code == 0
    return Trained(out, json.loads((out / "model_card.json").read_text()), stdout.getvalue())
