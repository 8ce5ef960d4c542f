"""A synthetic OBT shaped like the real one (50 states, the vendor's devices and OS, 2021-01..10, ~900 customers).

Used by the report tests and to draw ``docs/report.png`` when no real pipeline output is at hand:
``python -m tests.report.synthetic_obt OUT_DIR [REVIEWS]`` writes ``OUT_DIR/warehouse.duckdb``.
"""

from __future__ import annotations

import hashlib
import random
import sys
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

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
    purchases = {c: (Decimal(f"{rng.lognormvariate(7.3, 1.2):.3f}"), rng.randint(1, 60)) for c in ids if c in buyers}
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
    build_id = "obt-" + hashlib.sha256(f"synthetic#{seed}#{reviews}".encode()).hexdigest()[:20]
    records = []
    for (customer, day, device, state, os), (count, score) in sorted(groups.items()):
        amount, invoices = purchases.get(customer, (None, None))
        first, last = (date(2010, 12, 1), date(2011, 12, 9)) if amount is not None else (None, None)
        records.append(
            (customer, day, season(day), device, state, "West" if state in WEST else "East", os, BROWSER[os],
             count, score, amount, invoices, first, last, build_id, "2026-11-23 10:00:00+00")
        )  # fmt: skip
    return records


def create_synthetic_warehouse(path: Path, reviews: int = 100_000) -> DuckDbWarehouse:
    return create_obt(path, synthetic_records(reviews))


if __name__ == "__main__":
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    create_synthetic_warehouse(out / "warehouse.duckdb", int(sys.argv[2]) if len(sys.argv) > 2 else 100_000)
    print(out / "warehouse.duckdb")
