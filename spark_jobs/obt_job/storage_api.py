"""Cloud Storage object metadata through the JSON API, with the standard library only (``google_api``).

The job asks it for what the Hadoop FileSystem cannot tell: an object's generation (an input's before its first
read and after its last, ``inputs``; a layer marker's, ``markers``). ``STORAGE_EMULATOR_HOST`` sends it to the
emulator, as the Google clients do.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from obt_contract.layout import split_gs_uri
from obt_job import google_api

STORAGE_API = "https://storage.googleapis.com"


def object_metadata(uri: str, fields: str) -> dict[str, Any] | None:
    """``fields`` (comma-separated) of the live object ``gs://B/NAME``; ``None`` when there is none."""
    bucket, name = split_gs_uri(uri)
    path = f"/storage/v1/b/{urllib.parse.quote(bucket, safe='')}/o/{urllib.parse.quote(name, safe='')}"
    return google_api.call_json(
        lambda: google_api.request("STORAGE_EMULATOR_HOST", STORAGE_API, f"{path}?fields={fields}"),
        f"reading the metadata of {uri}",
        absent=frozenset({404}),
    )
