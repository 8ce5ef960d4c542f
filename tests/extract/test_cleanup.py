"""Deleting parts: never one a committed manifest names, whoever asks (in-memory store, no services)."""

from __future__ import annotations

from datetime import date

from obt.extract.export import SnapshotKey, delete_unnamed_parts
from obt_contract.layout import part_name, split_gs_uri

KEY = SnapshotKey("raw", "user_purchase", date(2026, 11, 24), "scheduled")
WINNER, LOSER = "00000000000000aa", "00000000000000bb"


class Store:
    def __init__(self, names: list[str]) -> None:
        self.names = set(names)

    def delete(self, uri: str) -> bool:
        name = split_gs_uri(uri)[1]
        present = name in self.names
        self.names.discard(name)
        return present


def _parts(attempt: str) -> list[str]:
    return [part_name(KEY.table, KEY.ingest_date, KEY.run_id, attempt, i) for i in range(2)]


def test_only_parts_the_committed_manifest_does_not_name_are_deleted():
    committed = {"parts": [{"name": name} for name in _parts(WINNER)]}
    store = Store([*_parts(WINNER), *_parts(LOSER)])
    # Even asked to delete everything (a confused caller, or the old "stale parts" sweep), the winner's parts stay.
    deleted = delete_unnamed_parts(store, KEY, committed, [*_parts(WINNER), *_parts(LOSER)], "test")  # type: ignore[arg-type]
    assert deleted == _parts(LOSER)
    assert store.names == set(_parts(WINNER))
    assert delete_unnamed_parts(store, KEY, committed, _parts(LOSER), "again") == []  # type: ignore[arg-type]
