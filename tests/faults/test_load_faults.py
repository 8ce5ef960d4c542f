"""The load under real faults: a crash at every boundary of a load, then redeliveries and older builds out of order;
and hostile sizes (a 40 MB message, reasons of megabytes). In-process, on DuckDB, with synthetic builds (no Spark).

Builds record their partitions, so every load after the first MERGEs only the partitions it changes
(``obt.load.partitions``): a crash inside a bounded MERGE rolls back as a full one does.

The promise: whatever crashed, the OBT equals the newest build the ledger says is loaded, after every delivery,
and ends equal to the newest succeeded build; each build is ``loaded`` in the ledger once; nothing is left staged;
no log line or ledger reason carries more than a fixed length of text.
"""

from __future__ import annotations

import json
import logging

import pytest

from obt.load.service import FAULT_POINTS, REASON_CHARS, InjectedFault, handle_event
from obt.log import JsonFormatter
from obt_contract.message import MAX_MESSAGE_BYTES
from tests.load_obt.builds import (
    build_id,
    deliver,
    ledger,
    local_env,
    local_services,
    manifest_uri,
    message,
    obt_rows,
    pubsub_event_data,
)
from tests.warehouse.obt_rows import change, key, make_rows

B1, MID, B2 = build_id("faults-old"), build_id("faults-mid"), build_id("faults-new")
WATERMARKS = {B1: 100, MID: 200, B2: 300}
# B2 delivered three more times, among the older builds: MID (never loaded, older than B2) and B1 (loaded).
ORDERS = {
    "older first": [MID, B2, B1, B2, MID, B1, B2],
    "newer first": [B2, MID, B1, B2, B1, MID, B2],
}
LOG_LINE_LIMIT = 2_000


@pytest.fixture
def env(tmp_path):
    return local_env(tmp_path)


@pytest.fixture
def rows(env):
    """B1 loaded; MID and B2 built, B2 the newest (5% of B1's rows changed, as many gone, as many new)."""
    _, builds, _ = env
    rows = {B1: make_rows(80, seed=1), MID: make_rows(60, seed=3)}
    rows[B2], _, _ = change(rows[B1], 0.05)
    for build, build_rows in rows.items():
        builds.add(build, build_rows, watermark=WATERMARKS[build])
    assert deliver(env, B1).outcome == "loaded"
    return rows


def data(table: dict[tuple, dict]) -> dict[tuple, dict]:
    return {k: {c: v for c, v in r.items() if c not in ("build_id", "loaded_at")} for k, r in table.items()}


def assert_obt_is_the_newest_loaded_build(warehouse, rows) -> None:
    """The table and the ledger agree: the OBT holds exactly the rows of the newest build recorded ``loaded``."""
    loaded = [r for r in ledger(warehouse) if r["outcome"] == "loaded"]
    newest = max(loaded, key=lambda r: r["input_watermark"])["build_id"]
    assert data(obt_rows(warehouse)) == {key(r): r for r in rows[newest]}, f"the OBT is not {newest}"


def staged(env) -> list:
    settings, _, warehouse = env
    tables = warehouse.query("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'obt_staging'")
    folder = settings.state_dir / "staging"
    return tables + (sorted(folder.iterdir()) if folder.exists() else [])


@pytest.mark.parametrize("order", ORDERS, ids=list(ORDERS))
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_a_crash_at_any_boundary_then_redeliveries_and_older_builds(env, rows, monkeypatch, tmp_path, point, order):
    _, _, warehouse = env
    token = tmp_path / "fault-token"
    token.touch()
    monkeypatch.setenv("OBT_FAULT", point)
    monkeypatch.setenv("OBT_FAULT_TOKEN", str(token))
    with pytest.raises(InjectedFault, match=point):
        deliver(env, B2)
    assert not token.exists()
    assert_obt_is_the_newest_loaded_build(warehouse, rows)

    results = []
    for build in ORDERS[order]:
        results.append((build, deliver(env, build)))
        assert_obt_is_the_newest_loaded_build(warehouse, rows)

    assert data(obt_rows(warehouse)) == {key(r): r for r in rows[B2]}
    loaded = [r["build_id"] for r in ledger(warehouse) if r["outcome"] == "loaded"]
    assert loaded.count(B2) == loaded.count(B1) == 1 and loaded.count(MID) <= 1
    # B2's MERGE was bounded to the partitions it changed (its manifest and the last loaded one record them).
    (b2,) = [r for r in ledger(warehouse) if r["outcome"] == "loaded" and r["build_id"] == B2]
    assert isinstance(json.loads(b2["partitions"]), list)
    b2_loaded = "committed" if point == "after_ledger" else next(i for i, (b, r) in enumerate(results) if b == B2)
    after = results if b2_loaded == "committed" else results[b2_loaded + 1 :]
    assert after and all(r.outcome == "skipped" for _, r in after)
    assert {r.reason for b, r in after if b in (B1, B2)} <= {"already loaded"}
    if point == "after_ledger" or order == "newer first":
        # MID arrives after B2 is in: an older build, skipped with the reason why.
        assert [r.reason for b, r in results if b == MID] == [
            "older than the last loaded build (input_watermark 200 < 300)"
        ] * 2
    assert staged(env) == []


def rejection_lines(caplog) -> list[str]:
    formatter = JsonFormatter()
    return [formatter.format(r) for r in caplog.records]


def test_a_40_mb_message_is_rejected_in_one_bounded_log_line(env, caplog):
    settings, builds, warehouse = env
    body = {"build_id": B2, "manifest_uri": manifest_uri(B2), "status": "failed", "reason": "x" * 30_000_000}
    data_bytes = json.dumps({**body, "padding": "y" * 10_000_000}).encode()
    assert len(data_bytes) > 40_000_000
    with caplog.at_level(logging.INFO):
        result = handle_event(pubsub_event_data(data_bytes), settings, local_services(settings, builds, warehouse))
    assert result.outcome == "rejected" and "over the limit" in result.reason
    (line,) = rejection_lines(caplog)
    assert len(line) < LOG_LINE_LIMIT and "xxxxxxxxxx" not in line
    assert not settings.warehouse_path.exists()  # nothing stored either


def test_a_malformed_message_quoting_itself_is_logged_bounded(env, caplog):
    """Under the size limit, a rejection reason may quote the message (a 60 KB build id): cut to a glimpse."""
    settings, builds, warehouse = env
    data_bytes = json.dumps({"build_id": "b" * 60_000, "manifest_uri": "gs://x/y", "status": "succeeded"}).encode()
    assert len(data_bytes) < MAX_MESSAGE_BYTES
    with caplog.at_level(logging.INFO):
        result = handle_event(pubsub_event_data(data_bytes), settings, local_services(settings, builds, warehouse))
    assert result.outcome == "rejected" and "build_id" in result.reason
    (line,) = rejection_lines(caplog)
    assert len(line) < LOG_LINE_LIMIT and "[truncated" in line


def test_a_30_mb_reason_cannot_fit_in_a_message(env):
    settings, builds, warehouse = env
    body = {"build_id": B2, "manifest_uri": manifest_uri(B2), "status": "failed", "reason": "r" * 30_000_000}
    result = handle_event(
        pubsub_event_data(json.dumps(body).encode()), settings, local_services(settings, builds, warehouse)
    )
    assert result.outcome == "rejected" and f"over the limit of {MAX_MESSAGE_BYTES:,}" in result.reason


def test_a_10_kb_reason_is_truncated_in_the_ledger_with_the_marker(env, caplog):
    settings, builds, warehouse = env
    body = {"build_id": B2, "manifest_uri": manifest_uri(B2), "status": "failed", "reason": "r" * 10_000}
    with caplog.at_level(logging.INFO):
        result = handle_event(
            pubsub_event_data(json.dumps(body).encode()), settings, local_services(settings, builds, warehouse)
        )
    assert result.outcome == "skipped"
    (row,) = ledger(warehouse)
    assert row["reason"].startswith("build failed: rrr") and len(row["reason"]) <= REASON_CHARS
    assert row["reason"].endswith("characters]") and "… [truncated" in row["reason"]
    assert all(len(line) < REASON_CHARS + LOG_LINE_LIMIT for line in rejection_lines(caplog))


def test_megabytes_of_manifest_reason_or_error_text_are_truncated(env, caplog):
    """Reasons the loader composes from what it read (a manifest, an exception) are cut too, in the ledger and
    in the log."""
    from obt.errors import TransientError

    settings, builds, warehouse = env
    doc = builds.add(B1, [], watermark=1, status="failed")
    doc["reason"] = "m" * 1_000_000

    class Down:
        def read_json(self, uri):
            raise TransientError("e" * 1_000_000)

    with caplog.at_level(logging.INFO):
        assert deliver(env, B1).outcome == "skipped"  # the message says succeeded, the manifest failed
        with pytest.raises(TransientError):
            handle_event(pubsub_event_data(message(B2)), settings, local_services(settings, Down(), warehouse))
    reasons = [r["reason"] for r in ledger(warehouse)]
    assert reasons[0].startswith("manifest status is failed: mmm") and reasons[1].startswith("TransientError: eee")
    assert all(len(r) <= REASON_CHARS and "… [truncated" in r for r in reasons)
    assert all(len(line) < REASON_CHARS + LOG_LINE_LIMIT for line in rejection_lines(caplog))
