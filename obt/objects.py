"""The build objects the loader reads from Cloud Storage (or the storage emulator): manifests and Parquet."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud.storage.retry import DEFAULT_RETRY

from obt import clients
from obt.config import Settings
from obt.errors import PermanentError
from obt_contract.layout import MANIFEST_NAME, split_gs_uri

# Retry transient storage errors for a minute, then fail the function so that Pub/Sub redelivers later
# (the library default of two minutes would eat a large part of the function's timeout).
RETRY = DEFAULT_RETRY.with_timeout(60.0)
_MANIFEST = re.compile(r"^obt/build_id=[^/]+/" + re.escape(MANIFEST_NAME) + "$")


class BuildObjects:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def _blob(self, uri: str):
        bucket, name = split_gs_uri(uri)
        return clients.storage(self.settings).bucket(bucket).blob(name)

    def read_json(self, uri: str) -> dict[str, Any]:
        """The JSON object at ``uri``; missing or not JSON is permanent (retrying cannot make it appear)."""
        try:
            raw = self._blob(uri).download_as_bytes(retry=RETRY)
        except gexc.NotFound as exc:
            raise PermanentError(f"object not found: {uri}") from exc
        try:
            doc = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PermanentError(f"not JSON: {uri}: {exc}") from exc
        if not isinstance(doc, dict):
            raise PermanentError(f"not a JSON object: {uri}")
        return doc

    def download(self, uri: str, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        self._blob(uri).download_to_filename(str(partial), retry=RETRY)
        partial.replace(path)

    def manifest_uris(self, bucket: str) -> list[str]:
        """Every build manifest (``obt/build_id=B/_MANIFEST.json``) in the curated ``bucket``, oldest first."""
        blobs = clients.storage(self.settings).list_blobs(bucket, prefix="obt/build_id=", retry=RETRY)
        found = [(b.time_created, b.name) for b in blobs if _MANIFEST.match(b.name)]
        found.sort(key=lambda item: (item[0] is None, item[0] or 0, item[1]))
        return [f"gs://{bucket}/{name}" for _, name in found]
