"""A tiny hand-made OBT whose every insight answer is known (worked out in test_insights.py)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from obt.config import Settings
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_contract.schema import ADDED_COLUMNS, TABLE_COLUMNS

BROWSER = {
    "Linux": "Firefox",
    "Google Android": "Chrome",
    "Microsoft Windows": "Edge",
    "Apple iOS": "Safari",
    "Apple MacOS": "Safari",
}
WEST = {"California", "Oregon"}

# customer -> (amount_spent, count_invoices); customer 3 has no clean purchases.
CUSTOMERS = {1: ("100.5", 2), 2: ("2000", 5), 3: (None, None), 4: ("10", 1)}

# (customer, log_date, season, device, state, os, review_count, review_score, build)
ROWS = [
    (1, "2021-01-15", "Winter", "Computer", "California", "Linux", 3, 1, "a"),
    (1, "2021-01-15", "Winter", "Mobile", "California", "Apple iOS", 2, 2, "a"),
    (1, "2021-04-02", "Spring", "Computer", "Texas", "Google Android", 4, 1, "a"),
    (2, "2021-02-10", "Winter", "Computer", "Texas", "Google Android", 1, 0, "a"),
    (2, "2021-07-04", "Summer", "Tablet", "New York", "Apple MacOS", 5, 4, "a"),
    (2, "2021-07-04", "Summer", "Tablet", "Oregon", "Google Android", 6, 3, "a"),
    (3, "2021-10-01", "Fall", "Mobile", "Oregon", "Microsoft Windows", 2, 0, "a"),
    (3, "2021-12-25", "Winter", "Computer", "Florida", "Google Android", 1, 1, "a"),
    (4, "2021-03-20", "Spring", "Mobile", "Florida", "Apple iOS", 1, 1, "b"),
]
BUILDS = {
    "a": ("obt-aaaaaaaaaaaaaaaaaaaa", "2026-11-20 10:00:00+00"),
    "b": ("obt-bbbbbbbbbbbbbbbbbbbb", "2026-11-21 09:00:00+00"),
}


def obt_records() -> list[tuple[Any, ...]]:
    records = []
    for customer, day, season, device, state, os, count, score, build in ROWS:
        amount, invoices = CUSTOMERS[customer]
        first, last = ("2010-12-01", "2011-12-09") if amount is not None else (None, None)
        build_id, loaded_at = BUILDS[build]
        region = "West" if state in WEST else "East"
        records.append(
            (customer, day, season, device, state, region, os, BROWSER[os], count, score, amount, invoices,
             first, last, build_id, loaded_at)
        )  # fmt: skip
    return records


# What a record holds, in order: the OBT's columns but the review tagger's (those stay NULL; see
# tests/report/synthetic_obt.add_tagger_columns).
RECORD_COLUMNS = tuple(c.name for c in TABLE_COLUMNS if c.name not in ADDED_COLUMNS)


def create_obt(path: Path, records: list[tuple[Any, ...]]) -> DuckDbWarehouse:
    """A local warehouse at ``path`` whose OBT (created by the warehouse's own DDL) holds ``records``."""
    warehouse = DuckDbWarehouse(Settings(state_dir=path.parent, warehouse_path=path))
    warehouse.ensure_schema()
    if records:
        # Column-wise through Arrow: DuckDB's executemany goes row by row and takes minutes for 100k rows.
        # amount_spent (column 10) is NUMERIC: Decimals, not floats.
        columns = pa.table(
            {
                f"c{i}": pa.array([None if v is None else Decimal(v) for v in values], pa.decimal128(38, 9))
                if i == 10
                else pa.array(values)
                for i, values in enumerate(zip(*records, strict=True))
            }
        )
        with duckdb.connect(str(path)) as con:
            con.execute("SET TimeZone = 'UTC'")
            con.register("new_rows", columns)
            con.execute(f"INSERT INTO movie_analytics.obt ({', '.join(RECORD_COLUMNS)}) SELECT * FROM new_rows")
    return warehouse
