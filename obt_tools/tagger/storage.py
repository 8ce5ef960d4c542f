"""Files beside the model (the card) through the Hadoop FileSystem API of the running JVM.

The model itself is written by Spark, so the card goes through the same API: whatever URI Spark can save the model
to (a local folder, ``file://``, ``gs://`` with the Cloud Storage connector) also takes the card, with no Python
storage client.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import SparkSession

from obt.errors import UserError

# A PipelineModel folder holds these two; ``model.write().overwrite()`` deletes whatever is at the target first.
_MODEL_ENTRIES = {"metadata", "stages"}


def _path(spark: SparkSession, uri: str) -> tuple[Any, Any]:
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def write_text(spark: SparkSession, uri: str, text: str) -> None:
    path, fs = _path(spark, uri)
    stream = fs.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def read_text(spark: SparkSession, uri: str) -> str | None:
    """The file's text, or None when there is no such file."""
    path, fs = _path(spark, uri)
    if not fs.isFile(path):
        return None
    stream = fs.open(path)
    try:
        return spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def check_model_target(spark: SparkSession, uri: str) -> None:
    """Refuse a target that overwriting would destroy: a file, or a non-empty folder that is not a saved model.

    Saving overwrites (retraining replaces the model in place), and Spark's overwrite deletes the whole target
    first: ``--out`` pointing at a project folder by mistake must fail here, not empty it.
    """
    path, fs = _path(spark, uri)
    if not fs.exists(path):
        return
    if fs.isFile(path):
        raise UserError(f"--out {uri} is a file; give a folder for the model")
    entries = {status.getPath().getName() for status in fs.listStatus(path)}
    if entries and not entries >= _MODEL_ENTRIES:
        raise UserError(f"--out {uri} is a folder that holds something other than a saved model; not overwriting it")
