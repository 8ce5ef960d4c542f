"""Batch records of the local Dataproc endpoint, kept under ``STATE/dataproc``; no HTTP, no processes.

Layout: ``batches/<id>.json`` (one record per batch, written atomically), ``batches/<id>/driver.log`` (the driver's
output, ``runtimeInfo.outputUri``) and ``mirror/`` (inputs that ``runner`` stages). A record is::

    {"batch": <the Batch as the REST API returns it>, "operation_id": ..., "request_id": ..., "project": ...,
     "driver_pid": <while or after running>, "done_time": <once terminal>}

The record holds the API's own Batch JSON, so GetBatch and ListBatches hand out copies instead of mapping fields,
and a restarted endpoint reads back exactly what its clients saw.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obt.log import get_logger

log = get_logger(__name__)

TERMINAL = frozenset({"SUCCEEDED", "FAILED", "CANCELLED"})
# The ListBatches filter fields this endpoint understands, besides ``labels.K``.
_FILTER_FIELDS = ("state", "batch_id", "batch_uuid", "create_time")
_CLAUSE = re.compile(r"^\s*([a-z_]+|labels\.[\w.-]+)\s*(!=|<=|>=|=|<|>)\s*(\"[^\"]*\"|'[^']*'|\S+)\s*$")
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    ">": lambda a, b: a > b,
    "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b,
}

Clause = tuple[str, str, str]


class FilterError(ValueError):
    """A ListBatches filter this endpoint cannot apply; becomes INVALID_ARGUMENT."""


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def batch_id_of(batch: Mapping[str, Any]) -> str:
    """The last segment of ``projects/P/locations/R/batches/ID``."""
    return batch["name"].rsplit("/", 1)[-1]


def json_copy(value: Any) -> Any:
    """A deep copy of record JSON: what leaves the lock must not share objects with a record."""
    return json.loads(json.dumps(value))


def set_state(record: dict[str, Any], state: str, message: str = "") -> None:
    """Move a batch to ``state`` as Dataproc does: the previous state goes to ``stateHistory``."""
    batch = record["batch"]
    if batch.get("state"):
        entry = {"state": batch["state"], "stateStartTime": batch["stateTime"]}
        if batch.get("stateMessage"):
            entry["stateMessage"] = batch["stateMessage"]
        batch.setdefault("stateHistory", []).append(entry)
    batch["state"] = state
    batch["stateTime"] = now_rfc3339()
    if message:
        batch["stateMessage"] = message
    else:
        batch.pop("stateMessage", None)
    if state in TERMINAL:
        record["done_time"] = batch["stateTime"]


def parse_filter(text: str) -> list[Clause]:
    """ListBatches filter: clauses on state, batch_id, batch_uuid, create_time, labels.K joined by AND."""
    if not text.strip():
        return []
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _CLAUSE.match(part)
        if not match or not (match[1] in _FILTER_FIELDS or "." in match[1]):
            raise FilterError(f"unsupported filter clause {part!r}")
        clauses.append((match[1], match[2], match[3].strip("\"'")))
    return clauses


def _matches(batch: Mapping[str, Any], clauses: list[Clause]) -> bool:
    for field_name, op, value in clauses:
        if field_name == "state":
            actual = batch.get("state", "")
        elif field_name == "batch_id":
            actual = batch_id_of(batch)
        elif field_name == "batch_uuid":
            actual = batch.get("uuid", "")
        elif field_name == "create_time":
            # Same-format RFC 3339 UTC strings compare correctly as text.
            actual, value = batch.get("createTime", "")[:19], value[:19]
        else:
            actual = batch.get("labels", {}).get(field_name[len("labels.") :], "")
        if not _COMPARE[op](actual, value):
            return False
    return True


class BatchStore:
    """Batch records on disk, one JSON file per batch, with an in-memory index of all of them.

    Nothing here locks: callers hold ``lock`` around each read or check-then-update, because their steps (look up,
    change state, save) must be atomic together, not one by one. ``lock`` is reentrant for the same reason.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dir = root / "batches"
        self.mirror = root / "mirror"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mirror.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
        self.records: dict[str, dict[str, Any]] = {}
        for path in sorted(self.dir.glob("*.json")):
            try:
                record = json.loads(path.read_text())
                self.records[batch_id_of(record["batch"])] = record
            except (OSError, ValueError, KeyError) as exc:
                log.error("unreadable batch record left as is", path=str(path), error=str(exc))

    def log_path(self, batch_id: str) -> Path:
        return self.dir / batch_id / "driver.log"

    def add(self, batch_id: str, record: dict[str, Any]) -> None:
        self.records[batch_id] = record
        self.save(batch_id)

    def save(self, batch_id: str) -> None:
        # Write, then rename: a crash mid-write leaves the previous record, never half of one.
        path = self.dir / f"{batch_id}.json"
        partial = path.with_suffix(".json.part")
        partial.write_text(json.dumps(self.records[batch_id], indent=1, sort_keys=True))
        os.replace(partial, path)

    def delete(self, batch_id: str) -> None:
        """Forget the batch: its record and its driver log."""
        self.records.pop(batch_id)
        (self.dir / f"{batch_id}.json").unlink(missing_ok=True)
        log_dir = self.dir / batch_id
        if log_dir.is_dir():
            for child in log_dir.iterdir():
                child.unlink()
            log_dir.rmdir()

    def by_name(self, name: str) -> dict[str, Any] | None:
        """The record of batch ``projects/P/locations/R/batches/ID``; ``None`` when that exact name is unknown.

        Ids are unique across the endpoint, so the id finds the record and the full name must then match.
        """
        record = self.records.get(name.rsplit("/", 1)[-1])
        return record if record and record["batch"]["name"] == name else None

    def by_operation(self, name: str) -> dict[str, Any] | None:
        """The record whose create operation is ``name``."""
        for record in self.records.values():
            if record["batch"]["operation"] == name:
                return record
        return None

    def batches(self, prefix: str, clauses: list[Clause]) -> list[dict[str, Any]]:
        """Copies of the batches whose name starts with ``prefix`` and that match every clause, in no order."""
        return [
            json_copy(r["batch"])
            for r in self.records.values()
            if r["batch"]["name"].startswith(prefix) and _matches(r["batch"], clauses)
        ]
