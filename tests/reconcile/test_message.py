"""The message reconcile publishes for an ended batch, and the HTTP body it accepts (no I/O)."""

from __future__ import annotations

import pytest

from obt.config import Settings
from obt.reconcile.service import EndedBatch, handle_request, message_for
from obt.services import Services
from obt_contract.layout import build_marker_name
from obt_contract.message import CompletionMessage

URI = "gs://cur/obt/build_id=obt-1/_MANIFEST.json"


def _batch(state: str, message: str = "") -> EndedBatch:
    return EndedBatch("obt-1", state, message, None)


def test_marker_lives_next_to_the_build_manifest():
    assert build_marker_name("obt-1") == "obt/build_id=obt-1/_PUBLISHED.json"


UNREADABLE = "its _MANIFEST.json is unreadable"
CASES = [
    (_batch("FAILED", "Driver OOM"), None, {"status": "failed", "reason": "batch FAILED: Driver OOM"}),
    (_batch("CANCELLED"), None, {"status": "failed", "reason": "batch CANCELLED: no state message"}),
    (_batch("SUCCEEDED"), None, {"status": "failed", "reason": "batch SUCCEEDED but wrote no _MANIFEST.json"}),
    (_batch("SUCCEEDED"), {"status": "succeeded", "reason": None}, {"status": "succeeded"}),
    (_batch("SUCCEEDED"), {"status": "failed", "reason": "dq: 60%"}, {"status": "failed", "reason": "dq: 60%"}),
    (
        _batch("FAILED", "killed"),
        {"status": "succeeded"},
        {"status": "succeeded", "reason": "manifest written, then batch FAILED: killed"},
    ),
    # A manifest that is not JSON is read as {} (there, but no status).
    (_batch("FAILED"), {}, {"status": "failed", "reason": f"batch FAILED; {UNREADABLE}"}),
    (_batch("SUCCEEDED"), {"status": "weird"}, {"status": "failed", "reason": f"batch SUCCEEDED; {UNREADABLE}"}),
]


@pytest.mark.parametrize(("batch", "manifest", "expected"), CASES)
def test_message_for(batch, manifest, expected):
    assert message_for(batch, manifest, "cur") == CompletionMessage("obt-1", URI, **expected)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ([1], "body must be a JSON object"),
        ({"lookback": 3}, "unknown fields: lookback"),
        ({"lookback_hours": 0}, "lookback_hours must be"),
        ({"lookback_hours": "3"}, "lookback_hours must be"),
        ({"lookback_hours": True}, "lookback_hours must be"),
        ({"dry_run": "yes"}, "dry_run must be a boolean"),
        ({"grace_minutes": -1}, "grace_minutes must be"),
        ({"grace_minutes": "0"}, "grace_minutes must be"),
        ({"grace_minutes": 1441}, "grace_minutes must be"),
    ],
)
def test_bad_request_bodies_are_400_before_any_call(payload, error):
    settings = Settings(dataproc_endpoint="http://127.0.0.1:9")
    body, status = handle_request(payload, settings, Services.from_settings(settings))
    assert status == 400 and error in body["error"]
