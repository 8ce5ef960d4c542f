"""What the report says about the data behind it: which build, when it was loaded, how fresh its inputs are and
how many rows each source lost to quarantine, from the operations tables (``obt_ops.load_ledger``, ``dq_counts``)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime

from obt.config import Settings
from obt_contract.sources import ALL_SOURCES
from obt_tools.analytics.insights import Warehouse, load_sql, to_records

_INGEST_DATE = re.compile(r"ingest_date=(\d{4}-\d{2}-\d{2})")

# The manifest's input kinds (docs/contracts.md) as the report names them; purchases come from our extract,
# reviews and logs from the vendor.
INPUT_LABELS = {
    "purchases_manifest": "purchases snapshot (extract)",
    "purchases": "purchases snapshot (extract)",
    "movie_reviews": "movie reviews (vendor)",
    "log_reviews": "review logs (vendor)",
}
# Sources and measures in pipeline order, as ``obt status`` lists them.
SOURCES = ALL_SOURCES
MEASURES = ("read", "kept", "quarantined", "unknown_location")


def _rank(order: tuple[str, ...], name: str) -> int:
    return order.index(name) if name in order else len(order)


@dataclass(frozen=True)
class LoadRecord:
    """The ledger row of the load that made the OBT equal to its build."""

    build_id: str
    inputs: str | None
    started_at: datetime | None
    finished_at: datetime | None
    rows_staged: int | None
    rows_inserted: int | None
    rows_updated: int | None
    rows_deleted: int | None
    stage_seconds: float | None
    merge_seconds: float | None


@dataclass(frozen=True)
class DqCount:
    source: str
    measure: str  # read | kept | quarantined | unknown_location
    reason: str | None
    row_count: int


@dataclass(frozen=True)
class InputDates:
    label: str
    ingest_dates: tuple[str, ...]


@dataclass(frozen=True)
class Operations:
    build_id: str
    load: LoadRecord | None  # None: no ledger row, e.g. an OBT filled by hand
    dq_counts: list[DqCount]
    input_dates: list[InputDates]


def input_dates(inputs: str | None) -> list[InputDates]:
    """The ingest dates in a ledger row's ``inputs`` (the build manifest's: per kind, the record of each input read,
    or its URI in manifests written before inputs were pinned), per kind of input."""
    try:
        doc = json.loads(inputs) if inputs else {}
    except json.JSONDecodeError:
        return []
    if not isinstance(doc, dict):
        return []
    found: dict[str, set[str]] = {}
    for kind, value in doc.items():
        for item in value if isinstance(value, list) else [value]:
            uri = item.get("uri") if isinstance(item, dict) else item
            match = _INGEST_DATE.search(uri) if isinstance(uri, str) else None
            if match:
                found.setdefault(INPUT_LABELS.get(kind, kind), set()).add(match.group(1))
    labels = list(dict.fromkeys(INPUT_LABELS.values()))
    ordered = sorted(found, key=lambda label: (_rank(tuple(labels), label), label))
    return [InputDates(label, tuple(sorted(found[label]))) for label in ordered]


def collect_operations(warehouse: Warehouse, obt_build_id: str, settings: Settings | None = None) -> Operations:
    """The last load's ledger row and its build's data-quality counts. Without a ledger row (an OBT not loaded
    by ``load_obt``) the build is the one the OBT's rows name (``obt_build_id``)."""
    loads = to_records(LoadRecord, warehouse.query(load_sql("loaded_build", settings)))
    load = loads[0] if loads else None
    build_id = load.build_id if load else obt_build_id
    rows = to_records(DqCount, warehouse.query(load_sql("build_dq_counts", settings), {"build_id": build_id}))
    rows.sort(key=lambda c: (_rank(SOURCES, c.source), c.source, _rank(MEASURES, c.measure), c.reason or ""))
    return Operations(
        build_id=build_id,
        load=load,
        dq_counts=rows,
        input_dates=input_dates(load.inputs) if load else [],
    )
