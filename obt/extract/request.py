"""What to extract: tables, ingest date and run id, from an HTTP body or the command line.

Run id: the request's ``run_id`` if given, else ``scheduled``. Together with the ingest date it is the
idempotency key of a snapshot (``user_purchase/ingest_date=D/run_id=R/``). Cloud Scheduler retries by
resending the same body, so a retry derives the same key and finds the complete manifest (or, after a failed
attempt, exports as a new attempt and removes the failed one's parts) instead of exporting a second copy; the
daily job thus yields one snapshot per day. A deliberate re-export (a backfill, or new data the same day)
passes its own ``run_id``.

Ingest date: the body's ``ingest_date``, else the date of the ``X-CloudScheduler-ScheduleTime`` header
(the scheduled time, identical across retries, so a retry after midnight UTC still maps to the same
day), else today in UTC.

Table names must be in the ``OBT_EXTRACT_TABLES`` allow-list; nothing else ever reaches SQL.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from obt.errors import UserError
from obt_contract.layout import LayoutError, check_run_id
from obt_contract.sources import PURCHASES

DEFAULT_RUN_ID = "scheduled"
DEFAULT_TABLES = (PURCHASES,)
_FIELDS = {"tables", "ingest_date", "run_id"}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class BadRequest(UserError):
    """The request can never succeed as sent (HTTP 400)."""


@dataclass(frozen=True)
class ExtractRequest:
    tables: tuple[str, ...]
    ingest_date: date
    run_id: str


def build_request(
    *,
    tables: Any = None,
    ingest_date: Any = None,
    run_id: Any = None,
    allowed: tuple[str, ...],
    schedule_time: str | None = None,
    today: date | None = None,
) -> ExtractRequest:
    return ExtractRequest(
        _tables(tables, allowed),
        _ingest_date(ingest_date, schedule_time, today),
        _run_id(run_id),
    )


def parse_body(
    body: bytes, *, allowed: tuple[str, ...], schedule_time: str | None = None, today: date | None = None
) -> ExtractRequest:
    """An HTTP body (empty, or a JSON object with ``tables``, ``ingest_date``, ``run_id``)."""
    doc: Any = {}
    if body.strip():
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadRequest(f"request body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise BadRequest(f"request body must be a JSON object, got {type(doc).__name__}")
    unknown = sorted(set(doc) - _FIELDS)
    if unknown:
        raise BadRequest(f"unknown request field(s) {unknown}; allowed: {sorted(_FIELDS)}")
    return build_request(
        tables=doc.get("tables"),
        ingest_date=doc.get("ingest_date"),
        run_id=doc.get("run_id"),
        allowed=allowed,
        schedule_time=schedule_time,
        today=today,
    )


def _tables(value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        value = list(DEFAULT_TABLES)
    if isinstance(value, str) or not isinstance(value, list) or not value:
        raise BadRequest('"tables" must be a non-empty list of table names')
    tables: list[str] = []
    for name in value:
        if not isinstance(name, str):
            raise BadRequest(f"table names are strings, got {name!r}")
        if name not in allowed:
            raise BadRequest(
                f"table {name[:100]!r} is not in the extract allow-list (OBT_EXTRACT_TABLES): {', '.join(allowed)}"
            )
        if not _IDENTIFIER.match(name):
            # The object layout needs a plain lower-case identifier even when the allow-list is misconfigured.
            raise BadRequest(f"allow-listed table {name!r} is not a plain lower-case identifier")
        if name not in tables:
            tables.append(name)
    return tuple(tables)


def _ingest_date(value: Any, schedule_time: str | None, today: date | None) -> date:
    if value is not None:
        if not isinstance(value, str) or not _DATE.match(value):
            raise BadRequest(f'"ingest_date" must be a YYYY-MM-DD date, got {str(value)[:40]!r}')
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise BadRequest(f'"ingest_date" is not a real date: {value!r}') from exc
    if schedule_time:
        try:
            moment = datetime.fromisoformat(schedule_time.replace("Z", "+00:00"))
        except ValueError as exc:
            raise BadRequest(f"X-CloudScheduler-ScheduleTime is not RFC 3339: {schedule_time!r}") from exc
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC).date()
    return today or datetime.now(UTC).date()


def _run_id(value: Any) -> str:
    if value is None:
        return DEFAULT_RUN_ID
    if not isinstance(value, str):
        raise BadRequest(f'"run_id" must be a string, got {value!r}')
    try:
        return check_run_id(value)
    except LayoutError as exc:
        raise BadRequest(str(exc)) from exc
