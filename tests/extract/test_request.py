"""Request validation: allow-list, dates, run ids and the deterministic defaults."""

from __future__ import annotations

from datetime import date

import pytest

from obt.extract.request import DEFAULT_RUN_ID, BadRequest, ExtractRequest, parse_body

ALLOWED = ("user_purchase", "other_table")
TODAY = date(2026, 11, 23)


def _parse(body: bytes, schedule_time: str | None = None) -> ExtractRequest:
    return parse_body(body, allowed=ALLOWED, schedule_time=schedule_time, today=TODAY)


def test_empty_body_uses_the_defaults():
    assert _parse(b"") == ExtractRequest(("user_purchase",), TODAY, DEFAULT_RUN_ID)
    assert _parse(b"{}") == ExtractRequest(("user_purchase",), TODAY, DEFAULT_RUN_ID)


def test_explicit_fields():
    body = b'{"tables": ["other_table", "user_purchase", "other_table"], "ingest_date": "2026-01-31", "run_id": "r-2"}'
    assert _parse(body) == ExtractRequest(("other_table", "user_purchase"), date(2026, 1, 31), "r-2")


def test_scheduler_retry_after_midnight_keeps_the_scheduled_date():
    # The header is the scheduled time, identical on every retry of that execution.
    assert _parse(b"", schedule_time="2026-11-22T23:59:00Z").ingest_date == date(2026, 11, 22)
    assert _parse(b"", schedule_time="2026-11-22T23:30:00-02:00").ingest_date == date(2026, 11, 23)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"[1]", "JSON object"),
        (b'{"tables": "user_purchase"}', "non-empty list"),
        (b'{"tables": []}', "non-empty list"),
        (b'{"tables": [1]}', "strings"),
        (b'{"tables": ["pg_authid"]}', "not in the extract allow-list"),
        (b'{"tables": ["user_purchase; DROP TABLE x"]}', "not in the extract allow-list"),
        (b'{"ingest_date": "2026-02-30"}', "not a real date"),
        (b'{"ingest_date": "20260201"}', "YYYY-MM-DD"),
        (b'{"ingest_date": 20260201}', "YYYY-MM-DD"),
        (b'{"run_id": "../x"}', "run id"),
        (b'{"run_id": 7}', "string"),
        (b'{"table": ["user_purchase"]}', "unknown request field"),
    ],
)
def test_bad_requests(body, message):
    with pytest.raises(BadRequest, match=message):
        _parse(body)


def test_bad_schedule_header():
    with pytest.raises(BadRequest, match="RFC 3339"):
        _parse(b"", schedule_time="yesterday")


def test_misconfigured_allow_list_entry_still_cannot_reach_sql():
    with pytest.raises(BadRequest, match="plain lower-case identifier"):
        parse_body(b'{"tables": ["Bad Name"]}', allowed=("Bad Name",), today=TODAY)
