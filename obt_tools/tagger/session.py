"""A local SparkSession for ``obt tagger``, with the JVM's own output in a log file instead of the terminal.

The command's output is a few human lines (figures, or one error line). Spark's JVM writes banners, warnings and
native-library notices to its stderr, which it inherits from this process when it starts; pointing file
descriptor 2 at a log file just while the JVM starts gives it that file for its whole life, and leaves Python's
stderr as it was. A session that is already running (a test's, a notebook's) is used as it is and left running.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import SparkSession


@dataclass(frozen=True)
class LocalSpark:
    spark: SparkSession
    log: Path | None  # None: the session was already running, its output goes where it went


@contextmanager
def local_spark(app_name: str) -> Iterator[LocalSpark]:
    active = SparkSession.getActiveSession()
    if active is not None:
        yield LocalSpark(active, None)
        return
    # Local mode needs no routable host name; resolving one can stall or warn on laptops and CI.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    handle, name = tempfile.mkstemp(prefix="obt-tagger-spark-", suffix=".log")
    saved = os.dup(2)
    os.dup2(handle, 2)
    try:
        spark = (
            SparkSession.builder.master("local[*]")
            .appName(app_name)
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.driver.memory", "2g")
            .getOrCreate()
        )
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(handle)
    spark.sparkContext.setLogLevel("WARN")
    # py4j logs its connection chatter at INFO, which ``obt``'s logging would print as JSON lines on stdout.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    try:
        yield LocalSpark(spark, Path(name))
    finally:
        spark.stop()
