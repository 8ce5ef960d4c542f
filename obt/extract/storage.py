"""The extract's parts as resumable uploads, and its storage error policy.

The manifest and the leftover parts go through the ``Objects`` port (``obt.objects``) like every other
object; only the streaming upload of a part is the extract's own. Every storage problem that is not already
one of the project's errors surfaces as ``StorageFailure`` (a ``TransientError``): the HTTP function answers
503 and Cloud Scheduler retries; the retry is a new attempt, and the parts a failed attempt left behind are
removed once a manifest is committed (``obt.extract.export``).

A part is created with ``ifGenerationMatch=0``: its name is unique to its attempt, and the precondition makes
that a guarantee of the store rather than of the random attempt id: no upload ever replaces an object. (Cloud
Storage enforces it on resumable uploads; fake-gcs-server enforces it only on single-request uploads, so
locally the attempt-unique name alone keeps parts apart.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from obt.errors import PermanentError, TransientError

# Resumable uploads send this much per request (a multiple of 256 KiB); it is also the writer's buffer.
UPLOAD_CHUNK_BYTES = 8 * 1024 * 1024
PART_CONTENT_TYPE = "application/gzip"


class StorageFailure(TransientError):
    """Cloud Storage failed or returned something inconsistent; retrying the request is safe."""


@contextmanager
def storage_errors(what: str) -> Iterator[None]:
    try:
        yield
    except (TransientError, PermanentError):
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
            self._writer = self._blob.open(
                "wb", content_type=PART_CONTENT_TYPE, ignore_flush=True, if_generation_match=0
            )

    def write(self, data: bytes) -> None:
        with storage_errors(f"uploading gs://{self._bucket_name}/{self.name}"):
            self._writer.write(data)

    def commit(self, size: int, crc32c: str) -> int:
        uri = f"gs://{self._bucket_name}/{self.name}"
        with storage_errors(f"finalising {uri}"):
            self._writer.close()
            self._blob.reload()
        if self._blob.size is not None and int(self._blob.size) != size:
            raise StorageFailure(f"{uri} holds {self._blob.size} bytes, {size} were sent")
        if self._blob.crc32c and self._blob.crc32c != crc32c:
            raise StorageFailure(f"{uri} has crc32c {self._blob.crc32c}, the bytes sent have {crc32c}")
        if self._blob.generation is None:
            # The manifest pins every part by generation; a store that reports none cannot hold a snapshot.
            raise StorageFailure(f"{uri} was stored without a generation")
        return int(self._blob.generation)

    def abort(self) -> None:
        if not self._writer.closed:
            self._writer.terminate()
