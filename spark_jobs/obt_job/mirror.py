"""Local files only: the job's outputs written under the mirror folder go up through the storage emulator, and an
earlier build's layer files come down from it; plus the size and crc32c of an input file the job reads locally (a
mirrored input, or a ``file://`` test input).

``google-cloud-storage`` and ``google-crc32c`` are imported here, lazily: they exist locally (the former honours
``STORAGE_EMULATOR_HOST``), and this module is never used on Dataproc, where Spark reads and writes ``gs://``
itself and ``inputs`` asks the JSON API for an input's size and crc32c.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from obt_contract.layout import split_gs_uri
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


def upload(paths: PathMap, uris: Iterable[str], what: str) -> dict[str, int]:
    """Upload each ``gs://`` URI's mirror file to its object, in the order given; returns their generations."""
    client = _client()
    generations = {}
    for uri in uris:
        bucket, name = split_gs_uri(uri)
        blob = client.bucket(bucket).blob(name)
        blob.upload_from_filename(str(paths.local_path(uri)))
        generations[uri] = blob.generation
    log.info("mirror outputs uploaded", what=what, objects=len(generations))
    return generations


def download(paths: PathMap, uri: str) -> int | None:
    """The live object ``gs://B/NAME`` into its mirror file; returns the generation downloaded, ``None`` (and
    nothing downloaded) when there is no such object."""
    bucket, name = split_gs_uri(uri)
    blob = _client().bucket(bucket).get_blob(name)
    if blob is None:
        return None
    # Read before the download, which sets the blob's properties again from headers an emulator may not send.
    generation = blob.generation
    target = paths.local_path(uri)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unique per download, then renamed: two builds may bring the same object down at once.
    partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
    blob.download_to_filename(str(partial))  # that generation, not whatever is live by now
    os.replace(partial, target)
    return generation


def download_missing(paths: PathMap, uris: Iterable[str], what: str) -> None:
    """Each ``gs://`` URI the mirror folder lacks, from the storage emulator; a missing object is an error.

    Only for objects written once under names of their own (layer files), so a file already in the mirror is the
    object's content."""
    missing = [uri for uri in uris if not paths.local_path(uri).exists()]
    for uri in missing:
        if download(paths, uri) is None:
            raise FileNotFoundError(f"{uri} is gone ({what})")
    if missing:
        log.info("mirror inputs downloaded", what=what, objects=len(missing))


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
