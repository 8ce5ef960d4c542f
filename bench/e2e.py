"""End-to-end latency of the event-driven chain on the local cloud.

For each scale of generated data (default 1× and 10×): seed PostgreSQL, extract over HTTP, upload the
vendor files, and measure from the last upload to the OBT loaded — in total, and the part spent outside
the Spark job (event routing, batch submission, completion message, MERGE). Targets (issue 5): the
real-data demo under 2 minutes on 2 cores, under 10 s of it outside Spark.

    .venv/bin/python bench/e2e.py [--scales 1,10] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

from obt_tools import demo

TARGET_TOTAL_SECONDS = 120.0
TARGET_OUTSIDE_SPARK_SECONDS = 10.0


def measure(label: str, files: demo.InputFiles, state_dir: Path) -> None:
    session = demo.DemoSession(state_dir)
    with demo.restored_environment():
        try:
            started = time.monotonic()
            session.start()
            session.seed_postgres(files.purchases)
            session.extract(date(2026, 11, 23))
            for source, path in files.vendor().items():
                session.upload_vendor(source, path, date(2026, 11, 23))
            outcome = session.wait_for_load(session.expected_build().build_id)
            whole = time.monotonic() - started
        finally:
            session.stop()
    print(
        f"{label:>14}  last upload → OBT loaded {outcome.latency_seconds:7.1f} s "
        f"(target {TARGET_TOTAL_SECONDS:.0f} s)   outside Spark {outcome.outside_spark_seconds:6.1f} s "
        f"(target {TARGET_OUTSIDE_SPARK_SECONDS:.0f} s)   Spark {outcome.spark_seconds:7.1f} s   "
        f"whole demo incl. start/seed/extract {whole:7.1f} s   OBT rows {outcome.manifest['obt']['rows']:,}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scales", default="1,10", help="comma-separated generated scales")
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[1].parent / "shared" / "data")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="obt-bench-e2e-") as tmp:
        root = Path(tmp)
        if (args.data_dir / "user_purchase.csv.gz").exists():
            measure("real data", demo.find_inputs(args.data_dir), root / "real")
        for scale in (float(s) for s in args.scales.split(",") if s.strip()):
            files = demo.generated_inputs(root / f"data-{scale:g}", scale, demo.DEFAULT_SEED)
            measure(f"generated {scale:g}×", files, root / f"state-{scale:g}")


if __name__ == "__main__":
    main()
