"""Reading the raw bucket for the planner: the listing and snapshot manifests, through google-cloud-storage."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from google.api_core import exceptions as gexc

from obt import clients
from obt.config import Settings
from obt.errors import TransientError
from obt.retryable import is_transient
from obt.trigger.planner import ListedObject
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES

# Only these prefixes can hold build inputs; listing them keeps unrelated uploads out of the way.
INPUT_PREFIXES = (f"{PURCHASES}/", f"{MOVIE_REVIEW}/", f"{LOG_REVIEWS}/")


def list_raw(settings: Settings) -> list[ListedObject]:
    client = clients.storage(settings)
    listing = []
    try:
        for prefix in INPUT_PREFIXES:
            for blob in client.list_blobs(settings.raw_bucket, prefix=prefix):
                listing.append(ListedObject(blob.name, int(blob.generation), int(blob.size or 0)))
    except Exception as exc:
        if is_transient(exc) or isinstance(exc, gexc.NotFound | gexc.Forbidden):
            # A missing bucket or permission is a deployment problem; keep the event until it is fixed.
            raise TransientError(f"listing gs://{settings.raw_bucket} failed: {exc}") from exc
        raise
    return listing


def manifest_reader(settings: Settings):
    """A ``ReadManifest`` for the planner that reads exactly the listed generation."""
    bucket = clients.storage(settings).bucket(settings.raw_bucket)

    def read(obj: ListedObject) -> Mapping[str, Any] | None:
        try:
            payload = bucket.blob(obj.name, generation=obj.generation).download_as_bytes()
        except gexc.NotFound:
            return None
        except Exception as exc:
            if is_transient(exc):
                raise TransientError(f"reading gs://{settings.raw_bucket}/{obj.name} failed: {exc}") from exc
            raise
        try:
            return json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not JSON: {exc}") from exc

    return read
