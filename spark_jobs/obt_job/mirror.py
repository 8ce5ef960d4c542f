"""Local files only: upload the outputs written under the mirror folder through the storage emulator, and the size
and crc32c of an input file the job reads locally (a mirrored input, or a ``file://`` test input).

``google-cloud-storage`` and ``google-crc32c`` are imported here, lazily: they exist locally (the former honours
``STORAGE_EMULATOR_HOST``), and this module is never used on Dataproc, where Spark reads and writes ``gs://``
itself and ``inputs`` asks the JSON API for an input's size and crc32c.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from pathlib import Path

from obt_job.log import get_logger
from obt_job.paths import PathMap

log = get_logger(__name__)

_CHUNK = 1 << 20


def _client():
    from google.cloud import storage

    if os.environ.get("STORAGE_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        return storage.Client(project=os.environ.get("OBT_PROJECT", "obt-local"), credentials=AnonymousCredentials())
    return storage.Client()


def upload(paths: PathMap, uris: Iterable[str], what: str) -> None:
    """Upload each ``gs://`` URI's mirror file to its object, in the order given."""
    client = _client()
    count = 0
    for uri in uris:
        bucket, _, name = uri[len("gs://") :].partition("/")
        client.bucket(bucket).blob(name).upload_from_filename(str(paths.local_path(uri)))
        count += 1
    log.info("mirror outputs uploaded", what=what, objects=count)


def size_and_crc32c(path: Path) -> tuple[int, str] | None:
    """A file's size and CRC32C as Cloud Storage writes it (base64 of the big-endian digest); ``None`` if absent."""
    import google_crc32c

    checksum, size = google_crc32c.Checksum(), 0
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                checksum.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    return size, base64.b64encode(checksum.digest()).decode()
