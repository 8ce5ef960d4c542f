"""Cloud Storage as every use case sees it: the ``Objects`` port and its google-cloud-storage adapter.

One port for the extract (its manifest and leftover parts), the trigger (the raw listing and snapshot
manifests), the loader and the DuckDB warehouse (build manifests and Parquet), reconcile (manifests and
publication markers), backfill and status. Against the local cloud the same adapter talks to the storage
emulator: the client library honours ``STORAGE_EMULATOR_HOST`` (see ``obt.clients``).

Decisions, the same for every method:

- A missing object is never an error here: ``read_json`` returns ``None``; ``exists``, ``download`` and
  ``delete`` return ``False``; listings leave it out. Callers for which "it must exist" raise their own
  error, in their own words. (``create_json`` is write-once: ``False`` means the object already exists.)
- An object that is there but is not a JSON object raises ``NotJsonObject`` (a ``PermanentError``: reading it
  again gives the same bytes).
- Failures worth a retry (``obt.retryable.is_transient``) and a refused permission (a deployment problem,
  fixed without touching the event) raise ``TransientError``: ``_storage_errors`` maps them for every call.
  So does a missing bucket on listing (``_blobs``). Anything else propagates as the library raised it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from google.api_core import exceptions as gexc
from google.cloud.storage.retry import DEFAULT_RETRY

from obt import clients
from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.retryable import is_transient
from obt_contract.layout import BUILDS_PREFIX, build_of_manifest, gs_uri, split_gs_uri

# Retry transient storage errors for a minute, then fail the function so that the platform redelivers later
# (the library default of two minutes would eat a large part of the function's timeout).
RETRY = DEFAULT_RETRY.with_timeout(60.0)


class NotJsonObject(PermanentError):
    """The object exists but does not hold a JSON object."""


@dataclass(frozen=True, order=True)
class ListedObject:
    """One object of a bucket listing: its name and the (current) generation, size and crc32c listed."""

    name: str
    generation: int
    size: int
    # base64, as GCS reports it (None when the store reports none). Not part of equality: (name, generation)
    # already names one immutable content; the snapshot integrity check (obt.extract.integrity) compares it.
    crc32c: str | None = field(default=None, compare=False)


class Objects(Protocol):
    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None:
        """The JSON object at ``uri`` (at ``generation`` when given); ``None`` when there is none."""

    def exists(self, uri: str) -> bool: ...

    def create_json(self, uri: str, body: Mapping[str, Any]) -> bool:
        """Write ``body`` only if ``uri`` does not exist yet; ``False`` when another writer got there first."""

    def download(self, uri: str, path: Path) -> bool:
        """Copy the object to ``path`` (complete or not at all); ``False`` when there is no object."""

    def delete(self, uri: str) -> bool: ...

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]: ...

    def manifest_uris(self, bucket: str) -> list[str]:
        """Every build manifest (``obt/build_id=B/_MANIFEST.json``) in the curated ``bucket``, oldest first."""


@contextmanager
def _storage_errors(what: str) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        if is_transient(exc) or isinstance(exc, gexc.Forbidden | gexc.Unauthorized):
            raise TransientError(f"{what} failed: {exc}") from exc
        raise


class GcsObjects:
    """``Objects`` over google-cloud-storage (Cloud Storage, or the storage emulator)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _blob(self, uri: str, generation: int | None = None):
        bucket, name = split_gs_uri(uri)
        return clients.storage(self.settings).bucket(bucket).blob(name, generation=generation)

    def read_json(self, uri: str, generation: int | None = None) -> dict[str, Any] | None:
        try:
            with _storage_errors(f"reading {uri}"):
                raw = self._blob(uri, generation).download_as_bytes(retry=RETRY)
        except gexc.NotFound:
            return None
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise NotJsonObject(f"not JSON: {uri}: {exc}") from exc
        if not isinstance(doc, dict):
            raise NotJsonObject(f"not a JSON object: {uri}")
        return doc

    def exists(self, uri: str) -> bool:
        with _storage_errors(f"looking up {uri}"):
            return self._blob(uri).exists(retry=RETRY)

    def create_json(self, uri: str, body: Mapping[str, Any]) -> bool:
        payload = json.dumps(body, indent=2) + "\n"
        try:
            with _storage_errors(f"writing {uri}"):
                self._blob(uri).upload_from_string(
                    payload, content_type="application/json", if_generation_match=0, retry=RETRY
                )
        except gexc.PreconditionFailed:
            return False
        return True

    def download(self, uri: str, path: Path) -> bool:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        try:
            with _storage_errors(f"downloading {uri}"):
                self._blob(uri).download_to_filename(str(partial), retry=RETRY)
        except gexc.NotFound:
            return False  # the library removes the file it started
        partial.replace(path)
        return True

    def delete(self, uri: str) -> bool:
        try:
            with _storage_errors(f"deleting {uri}"):
                self._blob(uri).delete(retry=RETRY)
        except gexc.NotFound:
            return False
        return True

    def _blobs(self, bucket: str, prefix: str) -> list[Any]:
        what = f"listing gs://{bucket}/{prefix}"
        try:
            with _storage_errors(what):
                return list(clients.storage(self.settings).list_blobs(bucket, prefix=prefix, retry=RETRY))
        except gexc.NotFound as exc:
            # A missing bucket is a deployment problem, not a missing object: keep the event until it is fixed.
            raise TransientError(f"{what} failed: {exc}") from exc

    def list_objects(self, bucket: str, prefix: str) -> list[ListedObject]:
        return [
            ListedObject(b.name, int(b.generation), int(b.size or 0), b.crc32c) for b in self._blobs(bucket, prefix)
        ]

    def manifest_uris(self, bucket: str) -> list[str]:
        blobs = self._blobs(bucket, BUILDS_PREFIX)
        found = [(b.time_created, b.name) for b in blobs if build_of_manifest(b.name)]
        found.sort(key=lambda item: (item[0] is None, item[0] or 0, item[1]))
        return [gs_uri(bucket, name) for _, name in found]
