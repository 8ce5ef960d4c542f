"""A synthetic OBT shaped like the real one (50 states, the vendor's devices and OS, 2021-01..10, ~900 customers),
with the ledger row and data-quality counts its load would have recorded.

Used by the report tests and to draw ``docs/report.png`` when no real pipeline output is at hand:
``python -m tests.report.synthetic_obt OUT_DIR [REVIEWS]`` writes ``OUT_DIR/warehouse.duckdb``.
"""

from __future__ import annotations

import hashlib
import json
import random
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from obt.warehouse.duckdb import DuckDbWarehouse
from tests.insights.obt_fixture import BROWSER, create_obt

STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska", "Nevada",
    "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio", "Oklahoma",
    "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas", "Utah",
    "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)  # fmt: skip
WEST = {
    "Alaska", "Arizona", "California", "Colorado", "Hawaii", "Idaho", "Montana", "Nevada", "New Mexico", "Oregon",
    "Utah", "Washington", "Wyoming",
}  # fmt: skip
DEVICES = ("Mobile", "Tablet", "Computer")
FIRST_DAY, DAYS = date(2021, 1, 1), 304  # 2021-01-01 .. 2021-10-31, as the vendor's logs
FIRST_INVOICE, INVOICE_DAYS = date(2010, 12, 1), 374  # 2010-12-01 .. 2011-12-09, as the purchases
LOADED_AT = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
INGEST_DATE = "2026-11-23"


def season(day: date) -> str:
    md = (day.month, day.day)
    if (3, 20) <= md <= (6, 20):
        return "Spring"
    if (6, 21) <= md <= (9, 22):
        return "Summer"
    if (9, 23) <= md <= (12, 20):
        return "Fall"
    return "Winter"


def synthetic_records(reviews: int = 100_000, customers: int = 909, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    ids = rng.sample(range(12346, 18288), customers)
    buyers = set(ids[: customers * 889 // 909])
    purchases = {}
    for c in ids:
        if c in buyers:
            first = FIRST_INVOICE + timedelta(days=rng.randrange(INVOICE_DAYS))
            last = first + timedelta(days=rng.randrange(INVOICE_DAYS - (first - FIRST_INVOICE).days))
            purchases[c] = (Decimal(f"{rng.lognormvariate(7.3, 1.2):.3f}"), rng.randint(1, 60), first, last)
    groups: dict[tuple[Any, ...], list[int]] = defaultdict(lambda: [0, 0])
    for _ in range(reviews):
        key = (
            rng.choice(ids),
            FIRST_DAY + timedelta(days=rng.randrange(DAYS)),
            rng.choice(DEVICES),
            rng.choice(STATES),
            rng.choice(tuple(BROWSER)),
        )
        groups[key][0] += 1
        groups[key][1] += rng.random() < 0.376
    build_id = synthetic_build_id(reviews, seed)
    records = []
    for (customer, day, device, state, os), (count, score) in sorted(groups.items()):
        amount, invoices, first, last = purchases.get(customer, (None, None, None, None))
        records.append(
            (customer, day, season(day), device, state, "West" if state in WEST else "East", os, BROWSER[os],
             count, score, amount, invoices, first, last, build_id, LOADED_AT.isoformat())
        )  # fmt: skip
    return records


def synthetic_build_id(reviews: int, seed: int = 7) -> str:
    return "obt-" + hashlib.sha256(f"synthetic#{seed}#{reviews}".encode()).hexdigest()[:20]


# The real demo's purchase counts (README: "What make demo shows"); review duplicates scale with the reviews.
PURCHASES_DQ = {"read": 541_908, "kept": 389_758}
PURCHASES_QUARANTINED = {
    "cancelled_or_adjustment": 9_646, "duplicate": 4_152, "missing_customer": 137_769, "non_product_code": 583,
}  # fmt: skip


def dq_counts(reviews: int) -> list[dict[str, Any]]:
    """Rows (source, measure, reason, row_count) as the loader records them from a build's manifest."""
    rows: list[dict[str, Any]] = [
        {"source": "user_purchase", "measure": m, "reason": None, "row_count": n} for m, n in PURCHASES_DQ.items()
    ]
    rows += [
        {"source": "user_purchase", "measure": "quarantined", "reason": r, "row_count": n}
        for r, n in PURCHASES_QUARANTINED.items()
    ]
    for source, duplicates in (("movie_review", reviews // 930), ("log_reviews", reviews // 950)):
        rows += [
            {"source": source, "measure": "read", "reason": None, "row_count": reviews + duplicates},
            {"source": source, "measure": "kept", "reason": None, "row_count": reviews},
            {"source": source, "measure": "quarantined", "reason": "duplicate", "row_count": duplicates},
        ]
    for measure in ("read", "kept"):
        rows.append({"source": "review_log_join", "measure": measure, "reason": None, "row_count": reviews})
    return rows


def record_load(warehouse: DuckDbWarehouse, build_id: str, obt_rows: int, reviews: int) -> None:
    """The ledger row and data-quality counts of loading the synthetic build, as load_obt records them."""
    raw = f"gs://obt-raw/{{}}/ingest_date={INGEST_DATE}"
    inputs = {
        "purchases_manifest": raw.format("user_purchase") + "/run_id=scheduled/_MANIFEST.json",
        "purchases": [raw.format("user_purchase") + "/run_id=scheduled/part-00000.csv.gz"],
        "movie_reviews": [raw.format("movie_review") + "/movie_review.csv"],
        "log_reviews": [raw.format("log_reviews") + "/log_reviews.csv"],
    }
    warehouse.record_load(
        {
            "build_id": build_id, "message_id": "1", "build_status": "succeeded", "input_watermark": 1,
            "manifest_uri": f"gs://obt-curated/obt/build_id={build_id}/_MANIFEST.json",
            "inputs": json.dumps(inputs, sort_keys=True), "outcome": "loaded", "reason": "loaded",
            "rows_staged": obt_rows, "rows_inserted": obt_rows, "rows_updated": 0, "rows_deleted": 0,
            "bytes_staged": 1_000_000, "stage_seconds": 0.8, "merge_seconds": 0.4,
            "started_at": LOADED_AT - timedelta(seconds=2), "finished_at": LOADED_AT, "partitions": None,
        }
    )  # fmt: skip
    warehouse.record_dq_counts(build_id, dq_counts(reviews))


def add_tagger_columns(path: Path) -> None:
    """The review tagger's columns as a build with a tagger model fills them: predicted_positive counts the row's
    reviews the model calls positive, sentiment_score is their mean score. The model disagrees with the rule on
    every fifth customer, so the two shares differ."""
    with duckdb.connect(str(path)) as con:
        con.execute(
            "UPDATE movie_analytics.obt SET predicted_positive = CASE WHEN customer_id % 5 = 0 "
            "THEN review_count - review_score ELSE review_score END, "
            "sentiment_score = (review_score + 0.5) / (review_count + 1)"
        )


def create_synthetic_warehouse(path: Path, reviews: int = 100_000) -> DuckDbWarehouse:
    records = synthetic_records(reviews)
    warehouse = create_obt(path, records)
    record_load(warehouse, synthetic_build_id(reviews), len(records), reviews)
    return warehouse


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    create_synthetic_warehouse(out / "warehouse.duckdb", int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    print(out / "warehouse.duckdb")
