"""The diff that bounds a load's MERGE (``obt.load.partitions``): pure, no warehouse, no objects."""

from __future__ import annotations

import datetime as dt

import pytest

from obt.load.partitions import (
    Partition,
    UnusablePartitions,
    changed_partitions,
    plan_merge,
    read_partitions,
)
from obt.warehouse.base import MergeScope

BASE = "obt-" + "b" * 20
D1, D2, D3, D4 = (dt.date(2021, 1, day) for day in (1, 2, 3, 4))


def obt(rows: int | None = None, **partitions: tuple[int, str]) -> dict:
    """A manifest's obt section: ``d2021_01_01=(rows, digest)`` per partition."""
    section: dict = {
        "partitions": {
            key[1:].replace("_", "-"): {"rows": count, "digest": digest} for key, (count, digest) in partitions.items()
        }
    }
    section["rows"] = sum(count for count, _ in partitions.values()) if rows is None else rows
    return section


def test_changed_added_and_removed_partitions_differ_and_equal_ones_do_not():
    old = {D1: Partition(3, "aa" * 8), D2: Partition(2, "bb" * 8), D3: Partition(1, "cc" * 8)}
    new = {D1: Partition(3, "aa" * 8), D2: Partition(2, "b0" * 8), D4: Partition(5, "dd" * 8)}
    assert changed_partitions(new, old) == (D2, D3, D4)
    assert changed_partitions(old, old) == ()


def test_a_row_count_alone_makes_a_partition_differ():
    assert changed_partitions({D1: Partition(4, "aa" * 8)}, {D1: Partition(3, "aa" * 8)}) == (D1,)


def test_plan_merges_only_the_changed_partitions_against_the_last_loaded_build():
    new = obt(d2021_01_01=(3, "aa" * 8), d2021_01_02=(4, "b0" * 8), d2021_01_04=(5, "dd" * 8))
    old = obt(d2021_01_01=(3, "aa" * 8), d2021_01_02=(2, "bb" * 8), d2021_01_03=(1, "cc" * 8))
    plan = plan_merge(new, BASE, old)
    assert plan.scope == MergeScope((D2, D3, D4), BASE)
    assert (plan.partitions_total, plan.rows_in_scope, plan.obt_rows_in_scope) == (4, 4 + 5, 2 + 1)
    assert plan.reason == f"3 of 4 partitions differ from the last loaded build {BASE}"
    assert plan.log_fields()["merge_scope"] == "3 partitions"


def test_identical_builds_plan_an_empty_scope():
    same = obt(d2021_01_01=(3, "aa" * 8), d2021_01_02=(2, "bb" * 8))
    plan = plan_merge(same, BASE, same)
    assert plan.scope.empty and plan.scope.base_build_id == BASE
    assert plan.rows_in_scope == plan.obt_rows_in_scope == 0


def test_digests_compare_without_regard_to_case():
    assert plan_merge(obt(d2021_01_01=(3, "AA" * 8)), BASE, obt(d2021_01_01=(3, "aa" * 8))).scope.empty


ONE_DAY = obt(d2021_01_01=(1, "aa" * 8))


@pytest.mark.parametrize(
    ("new", "base_build", "old", "why"),
    [
        (ONE_DAY, None, None, "no build loaded yet"),
        (ONE_DAY, BASE, None, f"the manifest of the last loaded build {BASE} cannot be read"),
        ({"rows": 1}, BASE, ONE_DAY, "this build's manifest records no partitions"),
        (ONE_DAY, BASE, {"rows": 1}, f"last loaded build {BASE} records no partitions"),
        ({**ONE_DAY, "rows": 5}, BASE, ONE_DAY, "hold 1 rows but the build has 5"),
    ],
    ids=["nothing loaded", "base unreadable", "new without", "base without", "rows uncovered"],
)
def test_a_full_merge_whenever_the_change_cannot_be_shown(new, base_build, old, why):
    plan = plan_merge(new, base_build, old)
    assert plan.scope.full and plan.scope == MergeScope()
    assert plan.reason.startswith("full MERGE: ") and why in plan.reason
    assert plan.log_fields()["merge_scope"] == "all partitions"


@pytest.mark.parametrize(
    ("partitions", "why"),
    [
        ([], "not an object"),
        ({"2021-1-1": {"rows": 1, "digest": "aa" * 8}}, "not a YYYY-MM-DD date"),
        ({"20210101": {"rows": 1, "digest": "aa" * 8}}, "not a YYYY-MM-DD date"),
        ({"2021-02-30": {"rows": 1, "digest": "aa" * 8}}, "not a YYYY-MM-DD date"),
        ({"2021-01-01') OR TRUE --": {"rows": 1, "digest": "aa" * 8}}, "not a YYYY-MM-DD date"),
        ({"2021-01-01": {"rows": "1", "digest": "aa" * 8}}, "no row count"),
        ({"2021-01-01": {"rows": True, "digest": "aa" * 8}}, "no row count"),
        ({"2021-01-01": {"rows": 1, "digest": "not hex!"}}, "no digest"),
        ({"2021-01-01": 7}, "no row count"),
    ],
)
def test_unusable_partitions_say_why(partitions, why):
    with pytest.raises(UnusablePartitions, match=why):
        read_partitions({"partitions": partitions})


def test_read_partitions_gives_dates_and_an_empty_build_has_none():
    assert read_partitions(obt(d2021_01_02=(2, "AB" * 8))) == {D2: Partition(2, "ab" * 8)}
    assert read_partitions({"rows": 0, "partitions": {}}) == {}


def test_a_scope_is_literal_dates_only():
    scope = MergeScope([D3, D1, D3], BASE)
    assert scope.partitions == (D1, D3)
    assert scope.predicate("t.log_date") == "t.log_date IN (DATE '2021-01-01', DATE '2021-01-03')"
    assert scope.ledger_value() == '["2021-01-01", "2021-01-03"]'
    assert MergeScope().predicate("t.log_date") == "TRUE" and MergeScope().ledger_value() is None
    assert MergeScope((), BASE).predicate("log_date") == "FALSE" and MergeScope((), BASE).ledger_value() == "[]"
    with pytest.raises(TypeError):
        MergeScope(("2021-01-01') OR (TRUE",), BASE)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        MergeScope((dt.datetime(2021, 1, 1, 12),), BASE)
    with pytest.raises(ValueError, match="computed against"):
        MergeScope((D1,), None)


def test_a_scope_is_stale_once_another_build_was_loaded_and_a_full_one_never():
    from obt.warehouse.base import LoadState

    scope = MergeScope((D1,), BASE)
    assert not scope.stale(LoadState(0, 10, BASE))
    assert scope.stale(LoadState(0, 20, "obt-" + "c" * 20))
    assert scope.stale(LoadState(0, None, None))
    assert not MergeScope().stale(LoadState(0, 20, "obt-" + "c" * 20))
    assert scope.key() != MergeScope((D1,), "obt-" + "c" * 20).key() != MergeScope((D2,), BASE).key()
    assert MergeScope().key() == "full"
