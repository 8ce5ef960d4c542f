"""Run an extract request against the configured database and raw bucket (shared by the function and the CLI).

Failures come out as the project's error types: ``TransientError`` when the database is unreachable or
storage failed (the function answers 503 and Cloud Scheduler retries), ``PermanentError`` when retrying
cannot help (a missing table, permission denied, a corrupt manifest).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.dbapi

from obt import clients
from obt.config import Settings
from obt.errors import PermanentError, TransientError
from obt.extract.export import ExtractOutcome, Progress, extract_table
from obt.extract.postgres import is_transient, shared_connection, sqlstate
from obt.extract.request import ExtractRequest
from obt.extract.storage import GcsPartSink, storage_errors
from obt.objects import GcsObjects


@contextmanager
def _database(settings: Settings) -> Iterator[Any]:
    try:
        with shared_connection(settings) as conn:
            yield conn
    except pg8000.dbapi.Error as exc:
        code = sqlstate(exc)
        if is_transient(exc):
            raise TransientError(f"database unavailable: {exc}") from exc
        raise PermanentError(f"database refused the export (SQLSTATE {code or '?'}): {exc}") from exc
    except OSError as exc:
        raise TransientError(f"database unreachable: {exc}") from exc


def run_extract(settings: Settings, request: ExtractRequest, progress: Progress | None = None) -> list[ExtractOutcome]:
    objects = GcsObjects(settings)
    with storage_errors(f"opening bucket gs://{settings.raw_bucket}"):
        bucket = clients.storage(settings).bucket(settings.raw_bucket)
    outcomes = []
    for table in request.tables:
        outcomes.append(
            extract_table(
                lambda: _database(settings),
                objects,
                settings.raw_bucket,
                table=table,
                ingest_date=request.ingest_date,
                run_id=request.run_id,
                part_bytes=settings.extract_part_bytes,
                open_part=lambda name: GcsPartSink(bucket, name),
                progress=progress,
            )
        )
    return outcomes


def response_body(outcomes: list[ExtractOutcome]) -> dict[str, Any]:
    """The HTTP success body: one entry per table, each with its full manifest."""
    return {
        "snapshots": [
            {"manifest_uri": outcome.manifest_uri, "reused": outcome.reused, "manifest": outcome.manifest}
            for outcome in outcomes
        ]
    }
