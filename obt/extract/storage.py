"""The raw bucket as the extract sees it: resumable part uploads, the manifest, leftover parts.

Every storage problem surfaces as ``StorageFailure`` (a ``TransientError``): the HTTP function answers 503
and Cloud Scheduler retries, and the retry replaces whatever a failed attempt left behind.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from google.api_core import exceptions as gexc

from obt.errors import TransientError
from obt.log import get_logger
from obt_contract.layout import classify_raw

log = get_logger(__name__)

# Resumable uploads send this much per request (a multiple of 256 KiB); it is also the writer's buffer.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
PART_CONTENT_TYPE = "application/gzip"


class StorageFailure(TransientError):
    """Cloud Storage failed or returned something inconsistent; retrying the request is safe."""


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    try:
        yield
    except StorageFailure:
        raise
    except Exception as exc:
        raise StorageFailure(f"{what} failed: {type(exc).__name__}: {exc}") from exc


class GcsPartSink:
    """One part as a resumable upload; the object appears only when ``commit`` finalises it."""

    def __init__(self, bucket, name: str, chunk_bytes: int = UPLOAD_CHUNK_BYTES) -> None:
        self.name = name
        self._bucket_name = bucket.name
        self._blob = bucket.blob(name, chunk_size=chunk_bytes)
        with storage_errors(f"opening an upload for gs://{bucket.name}/{name}"):
            self._writer = self._blob.open("wb", content_type=PART_CONTENT_TYPE, ignore_flush=True)

    def write(self, data: bytes) -> None:
        with storage_errors(f"uploading gs://{self._bucket_name}/{self.name}"):
            self._writer.write(data)

    def commit(self, size: int, crc32c: str) -> int | None:
        uri = f"gs://{self._bucket_name}/{self.name}"
        with storage_errors(f"finalising {uri}"):
            self._writer.close()
            self._blob.reload()
        if self._blob.size is not None and int(self._blob.size) != size:
            raise StorageFailure(f"{uri} holds {self._blob.size} bytes, {size} were sent")
        if self._blob.crc32c and self._blob.crc32c != crc32c:
            raise StorageFailure(f"{uri} has crc32c {self._blob.crc32c}, the bytes sent have {crc32c}")
        return int(self._blob.generation) if self._blob.generation is not None else None

    def abort(self) -> None:
        if not self._writer.closed:
            self._writer.terminate()


def read_manifest(bucket, name: str) -> tuple[dict[str, Any], int] | None:
    """The manifest and its generation, or ``None`` when it does not exist."""
    try:
        with storage_errors(f"reading gs://{bucket.name}/{name}"):
            blob = bucket.blob(name)
            payload = blob.download_as_bytes()
    except StorageFailure as exc:
        if isinstance(exc.__cause__, gexc.NotFound):
            return None
        raise
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise StorageFailure(f"gs://{bucket.name}/{name} is not JSON: {exc}") from exc
    return doc, int(blob.generation or 0)


def write_manifest(bucket, name: str, manifest: dict[str, Any]) -> int | None:
    """Create the manifest only if absent; return its generation, or ``None`` if another writer won."""
    blob = bucket.blob(name)
    body = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
    try:
        with storage_errors(f"writing gs://{bucket.name}/{name}"):
            blob.upload_from_string(body, content_type="application/json", if_generation_match=0)
    except StorageFailure as exc:
        if isinstance(exc.__cause__, gexc.PreconditionFailed):
            return None
        raise
    return int(blob.generation) if blob.generation is not None else None


def delete_stale_parts(bucket, prefix: str, keep: set[str]) -> list[str]:
    """Delete parts under ``prefix`` that a failed earlier attempt left and this run did not rewrite."""
    deleted = []
    with storage_errors(f"cleaning gs://{bucket.name}/{prefix}"):
        for blob in bucket.client.list_blobs(bucket.name, prefix=prefix):
            raw = classify_raw(blob.name)
            if raw is not None and raw.kind == "snapshot_part" and blob.name not in keep:
                try:
                    blob.delete()
                except gexc.NotFound:
                    continue
                deleted.append(blob.name)
    if deleted:
        log.info("deleted leftover parts of a failed attempt", prefix=prefix, parts=deleted)
    return deleted
