"""Which ``log_date`` partitions of the OBT a build changes: the diff that bounds the warehouse write.

BigQuery bills a MERGE on the partitions it scans and rewrites, so a MERGE over the whole OBT costs the whole
table on every load, even when one day of reviews arrived. But the OBT equals the last loaded build (a load's
MERGE commits with its ledger row), and every build manifest records, per ``log_date``, its row count and an
order-independent digest of its rows (``obt.partitions``, docs/contracts.md "Curated build output"; equal digests,
equal content). So a new build changes exactly the dates whose entry differs from the last loaded build's, plus
the dates only one of the two has; the load MERGEs those only (``MergeScope``).

Whenever that cannot be shown, the plan is a full MERGE, which is always right (only dearer), with the reason:
no build loaded yet, a manifest without ``partitions`` (written before them) or with an unusable one, or a
last loaded manifest that cannot be read. Pure: ``obt.load.service`` reads the ledger and the manifests.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from obt.warehouse.base import MergeScope

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# The contract says 16 hex digits; equality is all the diff needs, so any plain hex digest of a sane length reads.
_DIGEST = re.compile(r"^[0-9a-fA-F]{8,128}$")


class UnusablePartitions(ValueError):
    """A manifest's ``obt.partitions`` that is absent or cannot be trusted; the message says why."""


@dataclass(frozen=True)
class Partition:
    """One ``log_date`` of a build's OBT: how many rows, and a digest of their content."""

    rows: int
    digest: str


def read_partitions(obt: Mapping[str, Any]) -> dict[dt.date, Partition]:
    """The ``partitions`` of a manifest's ``obt`` section, by date; ``UnusablePartitions`` saying why not.

    The row counts must add up to ``obt.rows``: rows the map does not cover (a NULL ``log_date`` has no
    ``YYYY-MM-DD`` key) could not be bounded to any partition.
    """
    found = obt.get("partitions")
    if found is None:
        raise UnusablePartitions("records no partitions")
    if not isinstance(found, Mapping):
        raise UnusablePartitions(f"partitions is not an object: {type(found).__name__}")
    partitions: dict[dt.date, Partition] = {}
    for key, entry in found.items():
        try:
            # The regex first: fromisoformat alone also takes "20210101" and week dates.
            day = dt.date.fromisoformat(key) if isinstance(key, str) and _DATE.match(key) else None
        except ValueError:
            day = None
        if day is None:
            raise UnusablePartitions(f"partition {str(key)[:40]!r} is not a YYYY-MM-DD date")
        rows = entry.get("rows") if isinstance(entry, Mapping) else None
        digest = entry.get("digest") if isinstance(entry, Mapping) else None
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise UnusablePartitions(f"partition {key} has no row count")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise UnusablePartitions(f"partition {key} has no digest")
        partitions[day] = Partition(rows, digest.lower())
    total = obt.get("rows")
    covered = sum(p.rows for p in partitions.values())
    if isinstance(total, int) and covered != total:
        raise UnusablePartitions(f"partitions hold {covered} rows but the build has {total}")
    return partitions


def changed_partitions(new: Mapping[dt.date, Partition], old: Mapping[dt.date, Partition]) -> tuple[dt.date, ...]:
    """The dates whose rows differ (row count or digest), and those only one side has; in date order."""
    return tuple(sorted(day for day in new.keys() | old.keys() if new.get(day) != old.get(day)))


@dataclass(frozen=True)
class MergePlan:
    """The scope of one load's MERGE, why, and how big it is (logged: a purchase snapshot that changes many
    customers' metrics may legitimately touch many partitions, and the log shows how many)."""

    scope: MergeScope
    reason: str
    partitions_total: int | None = None  # dates in either build
    rows_in_scope: int | None = None  # the build's rows in the changed partitions: what the MERGE reads of staging
    obt_rows_in_scope: int | None = None  # the OBT's (the last loaded build's) rows there: what it reads of the OBT

    def log_fields(self) -> dict[str, Any]:
        count = len(self.scope.partitions or ())
        fields: dict[str, Any] = {
            "merge_scope": "all partitions" if self.scope.full else f"{count} partition{'' if count == 1 else 's'}",
            "scope_reason": self.reason,
        }
        if self.scope.base_build_id is not None:
            fields["base_build_id"] = self.scope.base_build_id
        for name in ("partitions_total", "rows_in_scope", "obt_rows_in_scope"):
            if getattr(self, name) is not None:
                fields[name] = getattr(self, name)
        return fields


def full_merge(reason: str) -> MergePlan:
    """A MERGE over the whole table: right whatever the OBT holds."""
    return MergePlan(MergeScope(), f"full MERGE: {reason}")


def plan_merge(new_obt: Mapping[str, Any], base_build_id: str | None, base_obt: Mapping[str, Any] | None) -> MergePlan:
    """The MERGE of a build whose manifest's ``obt`` section is ``new_obt``, into an OBT that equals
    ``base_build_id`` (the last loaded build; ``None`` before the first load), whose manifest's ``obt`` section is
    ``base_obt`` (the caller has checked it is that build's, or passes ``None`` after saying why in the log)."""
    if base_build_id is None:
        return full_merge("no build loaded yet")
    if base_obt is None:
        return full_merge(f"the manifest of the last loaded build {base_build_id} cannot be read")
    try:
        new = read_partitions(new_obt)
    except UnusablePartitions as exc:
        return full_merge(f"this build's manifest {exc}")
    try:
        old = read_partitions(base_obt)
    except UnusablePartitions as exc:
        return full_merge(f"the manifest of the last loaded build {base_build_id} {exc}")
    changed = changed_partitions(new, old)
    total = len(new.keys() | old.keys())
    return MergePlan(
        MergeScope(changed, base_build_id),
        f"{len(changed)} of {total} partitions differ from the last loaded build {base_build_id}",
        partitions_total=total,
        rows_in_scope=sum(new[day].rows for day in changed if day in new),
        obt_rows_in_scope=sum(old[day].rows for day in changed if day in old),
    )
