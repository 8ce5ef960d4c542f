"""The batch store on its own: records on disk, state history, lookups and filters, without HTTP or Spark."""

from __future__ import annotations

import pytest

from obt_tools.local.dataproc.store import BatchStore, FilterError, parse_filter, set_state

NAME = "projects/p/locations/r/batches/store-1"


def _record(name: str = NAME, created: str = "2024-01-01T00:00:00.000000Z") -> dict:
    batch = {"name": name, "uuid": "u-1", "createTime": created, "operation": "projects/p/regions/r/operations/o-1"}
    return {"batch": batch, "operation_id": "o-1", "request_id": "", "project": "p"}


def test_state_changes_keep_history_and_a_reloaded_store_reads_them_back(tmp_path):
    store = BatchStore(tmp_path)
    record = _record()
    set_state(record, "PENDING")
    store.add("store-1", record)
    set_state(record, "FAILED", "boom")
    store.save("store-1")

    batch = BatchStore(tmp_path).by_name(NAME)["batch"]

    assert batch["state"] == "FAILED"
    assert batch["stateMessage"] == "boom"
    assert [h["state"] for h in batch["stateHistory"]] == ["PENDING"]
    assert "done_time" in BatchStore(tmp_path).records["store-1"]


def test_lookups_need_the_exact_name_or_operation(tmp_path):
    store = BatchStore(tmp_path)
    store.add("store-1", _record())

    assert store.by_name("projects/p/locations/other/batches/store-1") is None
    assert store.by_operation("projects/p/regions/r/operations/o-1")["batch"]["name"] == NAME
    assert store.by_operation("projects/p/regions/r/operations/o-2") is None


def test_listing_filters_by_prefix_and_clauses_and_hands_out_copies(tmp_path):
    store = BatchStore(tmp_path)
    store.add("store-1", _record())
    store.add("store-2", _record("projects/p/locations/r/batches/store-2", "2024-02-01T00:00:00.000000Z"))
    store.add("store-3", _record("projects/p/locations/elsewhere/batches/store-3"))

    listed = store.batches("projects/p/locations/r/batches/", parse_filter('create_time > "2024-01-15T00:00:00Z"'))
    listed[0]["name"] = "changed"

    assert len(listed) == 1
    assert store.records["store-2"]["batch"]["name"] == "projects/p/locations/r/batches/store-2"
    with pytest.raises(FilterError, match="unsupported filter clause"):
        parse_filter("runtime = 2")
