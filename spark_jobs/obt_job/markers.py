"""Layer markers: whether a vendor date's marker exists, what it says, writing one; and the files it names within
Spark's reach.

Where the curated bucket is decides how (as ``inputs.state_reader`` does for the inputs):

- **Dataproc**: Spark and the Hadoop FileSystem read and write ``gs://`` directly; a marker's generation comes from
  the Cloud Storage JSON API (``storage_api``).
- **Local mirror mode** (``gs://`` outputs under ``spark.obt.localGcsMirror``): the job reads and writes the mirror
  folder and uploads its outputs through the storage emulator. So a marker is looked up and brought down through
  the emulator (an earlier build uploaded it; this mirror folder may never have held it), and so are the files it
  names that the mirror lacks (a layer file is written once under a name of its own, so a copy is that file).
- **``file://`` outputs** (tests): the files themselves; they have no generation.

Dates are looked up and marked concurrently: each is a request or two, and a full rebuild marks every date.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pyspark.sql import SparkSession

from obt_job import fs, mirror, storage_api
from obt_job.paths import PathMap

_WORKERS = 16
T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Marker:
    """A marker as found: its generation (``None`` for a local file) and its document (``None`` if not JSON)."""

    generation: int | None
    document: Any


def _each(function: Callable[[T], R], items: Sequence[T]) -> dict[T, R]:
    with ThreadPoolExecutor(max_workers=max(1, min(_WORKERS, len(items)))) as pool:
        return dict(zip(items, pool.map(function, items), strict=True))


def _generation(uri: str) -> int | None:
    """A written object's generation on Dataproc (the JSON API); a local file has none."""
    if not uri.startswith("gs://"):
        return None
    found = storage_api.object_metadata(uri, "generation")
    return None if found is None else int(found["generation"])


def find(spark: SparkSession, paths: PathMap, uris: Sequence[str]) -> dict[str, Marker | None]:
    """Each marker URI -> the marker, or ``None`` when there is none (the module docstring says where it looks)."""

    def look(uri: str) -> Marker | None:
        if uri.startswith("gs://") and paths.mirrored:
            generation = mirror.download(paths, uri)
            if generation is None:
                return None
        elif uri.startswith("gs://"):
            generation = _generation(uri)
            if generation is None:
                return None
        elif fs.exists(spark, uri):
            generation = None
        else:
            return None
        try:
            document = json.loads(fs.read_text(spark, paths.spark_uri(uri)))
        except json.JSONDecodeError:
            document = None
        return Marker(generation, document)

    return _each(look, list(uris))


def fetch(paths: PathMap, uris: Iterable[str]) -> None:
    """Brings the layer files at ``uris`` within Spark's reach: in mirror mode the ones this mirror lacks are
    downloaded; elsewhere Spark reads them where they are."""
    if paths.mirrored:
        mirror.download_missing(paths, [uri for uri in uris if uri.startswith("gs://")], "a layer file a marker names")


def write(spark: SparkSession, paths: PathMap, documents: Mapping[str, Mapping[str, Any]]) -> dict[str, int | None]:
    """Writes each marker (URI -> document), once every file it names is written (in mirror mode, uploaded by the
    caller); returns each marker's generation."""

    def put(uri: str) -> None:
        fs.write_text(spark, paths.spark_uri(uri), json.dumps(documents[uri], indent=2))

    uris = list(documents)
    _each(put, uris)
    if paths.mirrored:
        return {uri: None for uri in uris} | mirror.upload(paths, [u for u in uris if u.startswith("gs://")], "markers")
    return _each(_generation, uris)
