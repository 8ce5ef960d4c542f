"""One SparkSession for every Spark test (session start costs ~7 s on a shared 2-core machine)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
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
