"""Benchmark the load into the local warehouse (DuckDB): staging and MERGE time for 100k and 1M rows.

For each size: a first load into an empty OBT, an idempotent re-load of the same rows (0 rows change),
and a newer build where 1% of the rows changed value. Synthetic rows follow the Parquet contract.

    .venv/bin/python bench/load.py [--sizes 100000,1000000] [--parts 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from obt.config import Settings  # noqa: E402
from obt.warehouse.base import ledger_row  # noqa: E402
from obt.warehouse.duckdb import DuckDbWarehouse  # noqa: E402
from tests.warehouse.obt_rows import SCHEMA  # noqa: E402

DEVICES = np.array(["Mobile", "Tablet", "Computer"])
OS = np.array(["Linux", "Google Android", "Apple iOS", "Microsoft Windows"])
BROWSERS = np.array(["Firefox", "Chrome", "Safari", "Edge"])
STATES = np.array(["Ohio", "Texas", "California", "New York", "Oregon"])


def build_table(n: int, seed: int = 1) -> pa.Table:
    """``n`` rows with unique keys (customer, day, device, location, os/browser)."""
    rng = np.random.default_rng(seed)
    i = np.arange(n, dtype=np.int64)
    combo = i % 240  # 12 days x 3 devices x 5 states x ... spread over customers
    amount_units = rng.integers(0, 10**12, n)
    return pa.table(
        {
            "customer_id": 10_000 + i // 240,
            "log_date": pa.array(np.datetime64("2021-01-01") + (combo % 12).astype("timedelta64[D]")),
            "season": pa.array(np.full(n, "Winter")),
            "device": pa.array(DEVICES[(combo // 12) % 3]),
            "location": pa.array(STATES[(combo // 36) % 5]),
            "region": pa.array(np.full(n, "East")),
            "os": pa.array(OS[(combo // 180) % 4]),
            "browser": pa.array(BROWSERS[(combo // 180) % 4]),
            "review_count": rng.integers(1, 4, n),
            "review_score": rng.integers(0, 2, n),
            "amount_spent": pa.array(amount_units).cast(pa.decimal128(38, 9)),
            "count_invoices": rng.integers(1, 30, n),
            "first_invoice_date": pa.array(np.full(n, np.datetime64("2010-12-01"))),
            "last_invoice_date": pa.array(np.full(n, np.datetime64("2011-12-09"))),
            "predicted_positive": rng.integers(0, 2, n),
            "sentiment_score": rng.random(n),
        }
    ).cast(SCHEMA)


def change_one_percent(table: pa.Table, seed: int = 2) -> tuple[pa.Table, int]:
    rng = np.random.default_rng(seed)
    n = table.num_rows
    picked = rng.choice(n, size=max(1, n // 100), replace=False)
    scores = table.column("review_count").to_numpy().copy()
    scores[picked] += 10
    return table.set_column(table.schema.get_field_index("review_count"), "review_count", pa.array(scores)), len(picked)


def write_parts(table: pa.Table, folder: Path, parts: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-table.num_rows // parts)
    paths = []
    for p in range(parts):
        path = folder / f"part-{p:05d}.parquet"
        pq.write_table(table.slice(p * size, size), path)
        paths.append(str(path))
    return paths


def timed_load(warehouse: DuckDbWarehouse, build_id: str, files: list[str], watermark: int) -> dict[str, float | int]:
    with warehouse.serialized():
        t0 = time.perf_counter()
        staged = warehouse.stage(build_id, files)
        t1 = time.perf_counter()
        # The MERGE with its ledger row, in one transaction, as load_obt runs it.
        row = ledger_row(build_id=build_id, outcome="loaded", input_watermark=watermark)
        counts = warehouse.merge(build_id, row).counts
        t2 = time.perf_counter()
        warehouse.drop_staging(build_id)
    return {
        "rows": staged.rows,
        "stage_s": t1 - t0,
        "merge_s": t2 - t1,
        "inserted": counts.inserted,
        "updated": counts.updated,
        "deleted": counts.deleted,
    }


def run(size: int, parts: int, root: Path) -> list[tuple[str, dict]]:
    settings = Settings(state_dir=root / "state", warehouse_path=root / "state" / "warehouse.duckdb")
    warehouse = DuckDbWarehouse(settings)
    warehouse.ensure_schema()
    base = build_table(size)
    changed, n_changed = change_one_percent(base)
    first = write_parts(base, root / "b1", parts)
    second = write_parts(changed, root / "b3", parts)
    results = [
        ("first load", timed_load(warehouse, "obt-" + "1" * 20, first, watermark=1)),
        ("idempotent re-load", timed_load(warehouse, "obt-" + "2" * 20, first, watermark=2)),
        ("1% changed", timed_load(warehouse, "obt-" + "3" * 20, second, watermark=3)),
    ]
    assert results[1][1]["updated"] == results[1][1]["inserted"] == results[1][1]["deleted"] == 0
    assert results[2][1]["updated"] == n_changed
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--parts", type=int, default=4)
    args = parser.parse_args()
    print("load into DuckDB: stage (Parquet -> staging table) and MERGE (staging -> movie_analytics.obt)")
    print(f"{'rows':>9}  {'scenario':<20} {'stage s':>8} {'MERGE s':>8} {'inserted':>9} {'updated':>8} {'deleted':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="obt-bench-load-") as tmp:
            for scenario, r in run(size, args.parts, Path(tmp)):
                print(
                    f"{size:>9,}  {scenario:<20} {r['stage_s']:>8.3f} {r['merge_s']:>8.3f} "
                    f"{r['inserted']:>9,} {r['updated']:>8,} {r['deleted']:>8,}"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
