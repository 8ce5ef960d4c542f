"""Small files (manifests, markers) and listings of the job's own outputs through the JVM's Hadoop FileSystem.

The same calls reach ``gs://`` on Dataproc (Cloud Storage connector) and ``file://`` locally, so the job needs
no Python storage client on Dataproc.
"""

from __future__ import annotations

from pyspark.sql import SparkSession


def _path(spark: SparkSession, uri: str):
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


def read_text(spark: SparkSession, uri: str) -> str:
    path, fs = _path(spark, uri)
    stream = fs.open(path)
    try:
        return spark.sparkContext._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
    finally:
        stream.close()


def list_names(spark: SparkSession, dir_uri: str, prefix: str = "", suffix: str = "") -> list[str]:
    """File names directly under ``dir_uri`` with the given prefix and suffix, sorted."""
    path, fs = _path(spark, dir_uri)
    if not fs.exists(path):
        return []
    names = [status.getPath().getName() for status in fs.listStatus(path) if status.isFile()]
    return sorted(n for n in names if n.startswith(prefix) and n.endswith(suffix))


def exists(spark: SparkSession, uri: str) -> bool:
    path, fs = _path(spark, uri)
    return bool(fs.exists(path))


def list_files(spark: SparkSession, dir_uri: str, suffix: str) -> list[str]:
    """Paths, relative to ``dir_uri``, of the files at any depth under it ending in ``suffix``, sorted."""
    path, fs = _path(spark, dir_uri)
    if not fs.exists(path):
        return []
    base = fs.makeQualified(path).toString().rstrip("/") + "/"
    found, files = [], fs.listFiles(path, True)
    while files.hasNext():
        name = files.next().getPath().toString()
        if name.endswith(suffix) and name.startswith(base):
            found.append(name[len(base) :])
    return sorted(found)
