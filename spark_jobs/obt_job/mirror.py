"""Local mirror mode only: upload the outputs written under the mirror folder through the storage emulator.

``google-cloud-storage`` is imported here, lazily: it exists locally (and honours ``STORAGE_EMULATOR_HOST``),
and this module is never used on Dataproc, where Spark writes ``gs://`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from obt_job.log import get_logger
from obt_job.paths import PathMap

log = get_logger(__name__)


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
