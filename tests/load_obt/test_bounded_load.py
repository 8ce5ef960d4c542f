"""The load's MERGE is bounded by what changed (issue #18): only the ``log_date`` partitions whose digest differs
from the last loaded build's are MERGEd, the ledger names them, and any sequence of builds, redeliveries, older
builds and races still ends with the OBT equal to the newest build, as full MERGEs would leave it.

In-process on DuckDB with synthetic builds whose manifests carry ``obt.partitions`` (``builds.partition_digests``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal

import pytest

from obt.errors import TransientError
from obt.load import service
from tests.load_obt.builds import build_id, deliver, ledger, local_env, manifest_uri, obt_rows
from tests.warehouse.obt_rows import change, key, make_rows

B1, B2, B3, B4 = (build_id(f"bounded-{n}") for n in range(1, 5))
DAY13, DAY14 = dt.date(2021, 1, 13), dt.date(2021, 1, 14)  # make_rows fills 2021-01-01 .. 2021-01-12


@pytest.fixture
def env(tmp_path):
    return local_env(tmp_path)


def reviews(n: int, seed: int = 1) -> list[dict]:
    """``make_rows`` with each customer on 3 of the 12 days (``make_rows`` puts every customer on all 12, so that
    any purchase change would touch every partition); keys stay unique."""
    return [{**r, "customer_id": 10_000 + (i // 12) * 4 + (i % 12) // 3} for i, r in enumerate(make_rows(n, seed))]


def new_day(rows: list[dict], day: dt.date, count: int) -> list[dict]:
    """A day of new reviews from customers already there: ``count`` rows on ``day``, a date no row has yet. Their
    purchase metrics are unchanged."""
    return [{**r, "log_date": day} for r in rows[:count]]


def purchases_changed(rows: list[dict], customers: set[int]) -> list[dict]:
    """A purchase snapshot that changes these customers' metrics: every row of theirs, on every day they reviewed."""
    return [
        {**r, "amount_spent": (r["amount_spent"] or Decimal(0)) + 1, "count_invoices": (r["count_invoices"] or 0) + 1}
        if r["customer_id"] in customers
        else r
        for r in rows
    ]


def dates(rows: list[dict]) -> list[str]:
    return sorted({r["log_date"].isoformat() for r in rows})


def data(table: dict[tuple, dict]) -> dict[tuple, dict]:
    return {k: {c: v for c, v in r.items() if c not in ("build_id", "loaded_at")} for k, r in table.items()}


def with_build_ids(table: dict[tuple, dict]) -> dict[tuple, dict]:
    """The OBT without ``loaded_at``: which build last changed each row is part of the answer, when is not."""
    return {k: {c: v for c, v in r.items() if c != "loaded_at"} for k, r in table.items()}


def by_key(rows: list[dict]) -> dict[tuple, dict]:
    return {key(r): r for r in rows}


def planned(caplog, build: str) -> list:
    """The ``merge planned`` log records of ``build``'s loads."""
    return [r for r in caplog.records if r.getMessage() == "merge planned" and r.fields["build_id"] == build]


def loaded(warehouse, build: str) -> dict:
    (row,) = [r for r in ledger(warehouse) if r["build_id"] == build and r["outcome"] == "loaded"]
    return row


def counts(row: dict) -> tuple[int, int, int]:
    return row["rows_inserted"], row["rows_updated"], row["rows_deleted"]


def test_a_day_without_purchase_changes_writes_that_days_rows_not_the_table(env):
    """The acceptance test of issue #18: the ledger's counts and the partitions it names."""
    _, builds, warehouse = env
    base = reviews(1200)
    builds.add(B1, base, watermark=100)
    assert deliver(env, B1).outcome == "loaded"
    first = loaded(warehouse, B1)
    assert counts(first) == (1200, 0, 0) and first["partitions"] is None  # nothing loaded before: a full MERGE
    before = obt_rows(warehouse)

    today = new_day(base, DAY13, 40)
    builds.add(B2, base + today, watermark=200)
    assert deliver(env, B2).outcome == "loaded"
    entry = loaded(warehouse, B2)
    assert entry["rows_staged"] == 1240
    assert counts(entry) == (40, 0, 0)
    assert json.loads(entry["partitions"]) == ["2021-01-13"]
    after = obt_rows(warehouse)
    assert data(after) == by_key(base + today)
    # Every row of the other partitions is untouched: the build and the load time of the first load.
    assert {k: r for k, r in after.items() if k[1] != DAY13} == before


def test_changed_purchases_touch_exactly_their_customers_partitions(env, caplog):
    _, builds, warehouse = env
    base = reviews(1200)
    builds.add(B1, base, watermark=100)
    deliver(env, B1)
    customers = {10_003, 10_050}
    changed = purchases_changed(base, customers)
    theirs = [r for r in base if r["customer_id"] in customers]
    assert 0 < len(dates(theirs)) < 12
    builds.add(B2, changed, watermark=200)
    with caplog.at_level(logging.INFO, logger="obt.load.service"):
        assert deliver(env, B2).outcome == "loaded"
    entry = loaded(warehouse, B2)
    assert counts(entry) == (0, len(theirs), 0)
    assert json.loads(entry["partitions"]) == dates(theirs)
    assert data(obt_rows(warehouse)) == by_key(changed)
    # The plan's size is logged: how many partitions, and the rows the MERGE reads on each side.
    (plan,) = planned(caplog, B2)
    assert plan.fields["merge_scope"] == f"{len(dates(theirs))} partitions"
    assert plan.fields["partitions_total"] == 12
    in_scope = sum(1 for r in base if r["log_date"].isoformat() in dates(theirs))
    assert plan.fields["rows_in_scope"] == plan.fields["obt_rows_in_scope"] == in_scope


def test_identical_content_merges_nothing_and_says_so(env):
    _, builds, warehouse = env
    rows = reviews(300)
    builds.add(B1, rows, watermark=100)
    deliver(env, B1)
    before = obt_rows(warehouse)
    builds.add(B2, list(reversed(rows)), watermark=200)  # the same rows in another order: the same digests
    assert deliver(env, B2).outcome == "loaded"
    entry = loaded(warehouse, B2)
    assert counts(entry) == (0, 0, 0) and entry["partitions"] == "[]"
    assert obt_rows(warehouse) == before
    # The OBT now equals B2 (the ledger says so): the next build is diffed against B2's manifest.
    builds.add(B3, rows + new_day(rows, DAY13, 5), watermark=300)
    deliver(env, B3)
    assert json.loads(loaded(warehouse, B3)["partitions"]) == ["2021-01-13"]


def test_old_messages_published_again_are_refused_and_the_obt_stays_the_newest(env):
    _, builds, warehouse = env
    base = reviews(240)
    newer = base + new_day(base, DAY13, 10)
    builds.add(B1, base, watermark=100)
    builds.add(B2, newer, watermark=200)
    builds.add(B3, purchases_changed(base, {10_001}), watermark=150)  # built in between, never announced
    deliver(env, B1)
    deliver(env, B2)
    older = deliver(env, B3)
    assert older.outcome == "skipped" and older.reason.startswith("older than the last loaded build")
    assert [deliver(env, build).reason for build in (B1, B2)] == ["already loaded"] * 2
    assert data(obt_rows(warehouse)) == by_key(newer)


@pytest.mark.parametrize("missing", ["base manifest gone", "base without partitions", "build without partitions"])
def test_a_full_merge_when_the_change_cannot_be_shown(env, missing, caplog):
    _, builds, warehouse = env
    base = reviews(240)
    newer = purchases_changed(base, {10_001}) + new_day(base, DAY13, 10)
    builds.add(B1, base, watermark=100, partitions=missing != "base without partitions")
    deliver(env, B1)
    builds.add(B2, newer, watermark=200, partitions=missing != "build without partitions")
    if missing == "base manifest gone":
        del builds.docs[manifest_uri(B1)]
    with caplog.at_level(logging.INFO, logger="obt.load.service"):
        assert deliver(env, B2).outcome == "loaded"
    entry = loaded(warehouse, B2)
    assert entry["partitions"] is None
    assert counts(entry) == (10, sum(1 for r in base if r["customer_id"] == 10_001), 0)
    assert data(obt_rows(warehouse)) == by_key(newer)
    (plan,) = planned(caplog, B2)
    assert plan.fields["merge_scope"] == "all partitions"
    why = {
        "base manifest gone": f"the manifest of the last loaded build {B1} cannot be read: object not found",
        "base without partitions": f"the manifest of the last loaded build {B1} records no partitions",
        "build without partitions": "this build's manifest records no partitions",
    }[missing]
    assert plan.fields["scope_reason"].startswith(f"full MERGE: {why}")


def test_a_ledger_naming_a_manifest_outside_the_curated_bucket_is_not_read(env):
    _, builds, warehouse = env
    base = reviews(120)
    builds.add(B1, base, watermark=100)
    deliver(env, B1)
    warehouse.query(
        "UPDATE obt_ops.load_ledger SET manifest_uri = 'gs://elsewhere/obt/x/_MANIFEST.json' WHERE build_id = @b",
        {"b": B1},
    )
    builds.add(B2, base + new_day(base, DAY13, 3), watermark=200)
    assert deliver(env, B2).outcome == "loaded"
    assert loaded(warehouse, B2)["partitions"] is None


def interleave(monkeypatch, env, during: str, interlopers: list[str]) -> None:
    """Load each of ``interlopers`` (one per plan) between ``during``'s plan and its transaction: what another
    instance committing at that moment does on BigQuery."""
    plan_scope = service.plan_scope

    def plan_then_another_load(manifest, state, objects, settings):
        plan = plan_scope(manifest, state, objects, settings)
        if manifest.build_id == during and interlopers:
            assert deliver(env, interlopers.pop(0)).outcome == "loaded"
        return plan

    monkeypatch.setattr(service, "plan_scope", plan_then_another_load)


def test_a_base_that_moved_between_plan_and_transaction_is_planned_again(env, monkeypatch, caplog):
    _, builds, warehouse = env
    rows1 = reviews(600)
    rows2 = rows1 + new_day(rows1, DAY13, 30)
    rows3 = purchases_changed(rows2, {10_050}) + new_day(rows1, DAY14, 20)
    for build, rows, watermark in ((B1, rows1, 100), (B2, rows2, 200), (B3, rows3, 300)):
        builds.add(build, rows, watermark=watermark)
    deliver(env, B1)
    interleave(monkeypatch, env, B3, [B2])
    with caplog.at_level(logging.INFO, logger="obt.load.service"):
        assert deliver(env, B3).outcome == "loaded"
    assert data(obt_rows(warehouse)) == by_key(rows3)
    # B3's row is last to finish (its delivery started before B2's): the ledger names B3 as what the OBT holds.
    finished = sorted(ledger(warehouse), key=lambda r: r["finished_at"])
    assert [(r["build_id"], r["outcome"]) for r in finished] == [(B1, "loaded"), (B2, "loaded"), (B3, "loaded")]
    # Planned against B2 the second time: against B1, 2021-01-13 would have been in it.
    customer = [r for r in rows2 if r["customer_id"] == 10_050]
    assert json.loads(loaded(warehouse, B3)["partitions"]) == sorted({*dates(customer), "2021-01-14"})
    assert "2021-01-13" not in dates(customer)
    moved = [r for r in caplog.records if r.getMessage().startswith("the last loaded build moved")]
    assert [(r.fields["planned_against"], r.fields["last_loaded"]) for r in moved] == [(B1, B2)]


def test_a_base_that_moved_to_a_newer_build_refuses_the_older_one(env, monkeypatch):
    _, builds, warehouse = env
    base = reviews(240)
    newest = base + new_day(base, DAY14, 8)
    builds.add(B1, base, watermark=100)
    builds.add(B2, base + new_day(base, DAY13, 5), watermark=200)
    builds.add(B3, newest, watermark=300)
    deliver(env, B1)
    interleave(monkeypatch, env, B2, [B3])
    result = deliver(env, B2)
    assert result.outcome == "skipped" and result.reason.startswith("older than the last loaded build")
    assert data(obt_rows(warehouse)) == by_key(newest)


def test_a_base_that_keeps_moving_fails_transiently_then_the_redelivery_loads(env, monkeypatch):
    _, builds, warehouse = env
    rows = reviews(240)
    versions = [rows + new_day(rows, dt.date(2021, 2, n), n) for n in range(1, 6)]
    interlopers = [build_id(f"interloper-{n}") for n in range(service.MAX_PLANS)]
    for n, (build, version) in enumerate(zip([B1, *interlopers, B4], versions, strict=True)):
        builds.add(build, version, watermark=100 * (n + 1))
    deliver(env, B1)
    interleave(monkeypatch, env, B4, list(interlopers))
    with pytest.raises(TransientError, match=f"during each of {service.MAX_PLANS} merge plans"):
        deliver(env, B4)
    assert data(obt_rows(warehouse)) == by_key(versions[-2])
    assert [r["outcome"] for r in ledger(warehouse) if r["build_id"] == B4] == ["failed"]
    assert deliver(env, B4).outcome == "loaded"
    assert data(obt_rows(warehouse)) == by_key(versions[-1])
    assert json.loads(loaded(warehouse, B4)["partitions"]) == ["2021-02-04", "2021-02-05"]


def mutations(rows: list[dict]) -> list[list[dict]]:
    """Successive builds, each from the one before: a new day; purchases changed for a few customers; a day
    gone; some rows changed, gone and new (``change``); nothing changed; a new day and a purchase change."""
    out = [rows]
    out.append(out[-1] + new_day(rows, DAY13, 25))
    out.append(purchases_changed(out[-1], {10_004, 10_020, 10_031}))
    out.append([r for r in out[-1] if r["log_date"] != dt.date(2021, 1, 5)])
    out.append(change(out[-1], 0.03, seed=9)[0])
    out.append(list(out[-1]))
    out.append(purchases_changed(out[-1], {10_007}) + new_day(rows, DAY14, 12))
    return out


def test_any_sequence_leaves_the_obt_as_full_merges_would(tmp_path):
    """Deliveries in and out of order, redeliveries included, against two warehouses: one with manifests that
    record partitions (bounded MERGEs), one without (full MERGEs). After every delivery both give the same answer,
    and hold the same rows with the same build ids: the newest loaded build's rows."""
    bounded, full = local_env(tmp_path / "bounded"), local_env(tmp_path / "full")
    versions = mutations(reviews(480, seed=4))
    ids = [build_id(f"sequence-{n}") for n in range(len(versions))]
    for n, (build, rows) in enumerate(zip(ids, versions, strict=True)):
        bounded[1].add(build, rows, watermark=100 * (n + 1))
        full[1].add(build, rows, watermark=100 * (n + 1), partitions=False)
    # Loads 0, 1, 3 (2 never: older by then), 4, 5 (nothing changed) and 6; every other delivery is refused.
    order = [0, 1, 0, 3, 2, 4, 5, 4, 6, 5, 1, 6]
    newest = None
    for n in order:
        got, expected = deliver(bounded, ids[n]), deliver(full, ids[n])
        assert (got.outcome, got.reason) == (expected.outcome, expected.reason), f"build {n} in {order}"
        if got.outcome == "loaded":
            newest = n
        bounded_obt, full_obt = obt_rows(bounded[2]), obt_rows(full[2])
        assert with_build_ids(bounded_obt) == with_build_ids(full_obt), f"after build {n} in {order}"
        assert data(bounded_obt) == by_key(versions[newest])
    scopes = [(r["build_id"], r["partitions"]) for r in ledger(bounded[2]) if r["outcome"] == "loaded"]
    assert [build for build, _ in scopes] == [ids[n] for n in (0, 1, 3, 4, 5, 6)]
    assert scopes[0][1] is None and scopes[4][1] == "[]"
    assert all(0 < len(json.loads(partitions)) < 14 for _, partitions in scopes[1:4] + scopes[5:])
