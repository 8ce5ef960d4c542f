"""In-memory raw bucket for planner and trigger tests: objects with generations, manifests as documents.

``RawBucket`` is also the trigger's ``Objects`` (``list_objects`` and ``read_json``, as ``obt.objects`` defines them).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from typing import Any

from obt.objects import ListedObject
from obt_contract.layout import split_gs_uri

SNAPSHOT = "user_purchase/ingest_date=2026-11-23/run_id=r1"
MANIFEST = f"{SNAPSHOT}/_MANIFEST.json"
PARTS = (f"{SNAPSHOT}/part-00000.csv.gz", f"{SNAPSHOT}/part-00001.csv.gz")
MOVIE = "movie_review/ingest_date=2026-11-23/movie_review.csv"
LOGS = "log_reviews/ingest_date=2026-11-23/log_reviews.csv"


class RawBucket:
    """Objects by name (current generation only, like a GCS listing); ``put`` mints a new generation."""

    def __init__(self) -> None:
        self._generations = itertools.count(1763891234000001)
        self.objects: dict[str, ListedObject] = {}
        self.documents: dict[tuple[str, int], Any] = {}

    def put(self, name: str, size: int = 100, document: Any = None) -> ListedObject:
        obj = ListedObject(name, next(self._generations), size)
        self.objects[name] = obj
        if document is not None:
            self.documents[(name, obj.generation)] = document
        return obj

    def put_snapshot(self, prefix: str = SNAPSHOT, parts: int = 2, part_size: int = 100) -> ListedObject:
        names = [f"{prefix}/part-{i:05d}.csv.gz" for i in range(parts)]
        for name in names:
            self.put(name, part_size)
        return self.put_manifest(prefix, names, part_size)

    def put_manifest(self, prefix: str, part_names, part_size: int = 100, **overrides) -> ListedObject:
        document = manifest_document(prefix, part_names, part_size, **overrides)
        return self.put(f"{prefix}/_MANIFEST.json", len(json.dumps(document)), document)

    def listing(self) -> list[ListedObject]:
        return list(self.objects.values())

    def read_manifest(self, obj: ListedObject) -> Mapping[str, Any] | None:
        return self._document(obj.name, obj.generation)

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        return [obj for obj in self.objects.values() if obj.name.startswith(prefix)]

    def read_json(self, uri: str, generation: int | None = None) -> Mapping[str, Any] | None:
        name = split_gs_uri(uri)[1]
        return self._document(name, generation if generation is not None else self.objects[name].generation)

    def _document(self, name: str, generation: int) -> Mapping[str, Any] | None:
        document = self.documents.get((name, generation))
        if isinstance(document, Exception):
            raise document
        return document


def manifest_document(prefix: str, part_names, part_size: int = 100, **overrides) -> dict[str, Any]:
    document = {
        "kind": "snapshot",
        "table": "user_purchase",
        "run_id": prefix.rsplit("=", 1)[-1],
        "ingest_date": prefix.split("ingest_date=")[1][:10],
        "format": "csv.gz",
        "header": True,
        "parts": [{"name": n, "uri": f"gs://obt-raw/{n}", "rows": 10, "bytes": part_size} for n in part_names],
        "total_rows": 10 * len(part_names),
    }
    document.update(overrides)
    return document
