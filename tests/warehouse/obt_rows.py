"""Synthetic build output (the Parquet contract) for warehouse and loader tests and the benchmark."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from obt_contract.schema import ADDED_COLUMNS

SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("log_date", pa.date32()),
        ("season", pa.string()),
        ("device", pa.string()),
        ("location", pa.string()),
        ("region", pa.string()),
        ("os", pa.string()),
        ("browser", pa.string()),
        ("review_count", pa.int64()),
        ("review_score", pa.int64()),
        ("amount_spent", pa.decimal128(38, 9)),
        ("count_invoices", pa.int64()),
        ("first_invoice_date", pa.date32()),
        ("last_invoice_date", pa.date32()),
        ("predicted_positive", pa.int64()),
        ("sentiment_score", pa.float64()),
    ]
)
# A build written before the columns added later (obt_contract.schema.ADDED_COLUMNS): what older Parquet holds.
SCHEMA_BEFORE_ADDED = pa.schema([field for field in SCHEMA if field.name not in ADDED_COLUMNS])
KEY = ("customer_id", "log_date", "device", "location", "os", "browser")
DEVICES = ("Mobile", "Tablet", "Computer")
OS_BROWSER = (
    ("Linux", "Firefox"),
    ("Google Android", "Chrome"),
    ("Apple iOS", "Safari"),
    ("Microsoft Windows", "Edge"),
)
STATES = ("Ohio", "Texas", "California", "New York", None)


def make_rows(n: int, seed: int = 1) -> list[dict[str, Any]]:
    """``n`` rows with unique keys; some keys and values are NULL, to exercise null-safe comparison."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        os_name, browser = OS_BROWSER[i % len(OS_BROWSER)]
        has_purchases = i % 7 != 0
        rows.append(
            {
                "customer_id": 10_000 + i // 12,
                "log_date": dt.date(2021, 1, 1) + dt.timedelta(days=i % 12),
                "season": "Winter",
                "device": DEVICES[(i // 4) % 3],
                "location": STATES[(i // 12) % len(STATES)],
                "region": "East",
                "os": os_name,
                "browser": browser,
                "review_count": rng.randint(1, 3),
                "review_score": rng.randint(0, 1),
                "amount_spent": Decimal(rng.randint(0, 10**9)) / Decimal(1000) if has_purchases else None,
                "count_invoices": rng.randint(1, 20) if has_purchases else None,
                "first_invoice_date": dt.date(2010, 12, 1) if has_purchases else None,
                "last_invoice_date": dt.date(2011, 12, 9) if has_purchases else None,
                # A build without a tagger model leaves both NULL (every eleventh row here).
                "predicted_positive": rng.randint(0, 3) if i % 11 else None,
                "sentiment_score": rng.random() if i % 11 else None,
            }
        )
    return rows


def key(row: dict[str, Any]) -> tuple:
    return tuple(row[k] for k in KEY)


def change(rows: list[dict[str, Any]], share: float, seed: int = 2) -> tuple[list[dict[str, Any]], set, set]:
    """A newer build: ``share`` of the rows get a new value, as many vanish and as many new keys appear.

    Returns (new rows, keys changed, keys vanished).
    """
    rng = random.Random(seed)
    count = max(1, int(len(rows) * share))
    picked = rng.sample(range(len(rows)), 2 * count)
    changed_idx, vanished_idx = set(picked[:count]), set(picked[count:])
    out, changed, vanished = [], set(), set()
    for i, row in enumerate(rows):
        if i in vanished_idx:
            vanished.add(key(row))
            continue
        row = dict(row)
        if i in changed_idx:
            # Alternate NULL <-> value changes with plain value changes: both must count as changes.
            row["review_score"] = (
                None if i % 3 == 0 and row["review_score"] is not None else (row["review_score"] or 0) + 1
            )
            changed.add(key(row))
        out.append(row)
    base_customer = max(r["customer_id"] for r in rows) + 1
    for j in range(count):
        new = dict(rows[j])
        new["customer_id"] = base_customer + j
        out.append(new)
    return out, changed, vanished


def write_parquet(rows: list[dict[str, Any]], folder: Path, parts: int = 2, schema: pa.Schema = SCHEMA) -> list[Path]:
    """Rows as ``parts`` Parquet files in ``folder`` (like Spark's part-*.parquet), with ``schema``'s columns."""
    folder.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(rows, schema)
    size = -(-table.num_rows // parts) if table.num_rows else 0
    paths = []
    for p in range(parts):
        path = folder / f"part-{p:05d}.parquet"
        pq.write_table(table.slice(p * size, size) if size else table, path)
        paths.append(path)
    return paths
