"""``obt demo``: run the whole chain on the local cloud with a live view of each stage, then summarise."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from obt_tools import demo
from obt_tools.generate import parse_scale


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the event-driven chain end to end on the local cloud",
        description="Start the local cloud, seed PostgreSQL, fire the scheduler at extract_postgres, upload the "
        "vendor files, and let events, the Dataproc batch, Pub/Sub and load_obt build the OBT.",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="folder with user_purchase, movie_review and log_reviews "
        "(.csv, .csv.gz or .csv.xz); default: generated data",
    )
    parser.add_argument("--scale", type=parse_scale, default=1.0, help="size of generated data (1 = real size)")
    parser.add_argument("--seed", type=int, default=demo.DEFAULT_SEED, help="generator seed")
    parser.add_argument("--state-dir", type=Path, default=Path(".obt"), help="local cloud state (default .obt)")
    parser.add_argument("--ingest-date", type=date.fromisoformat, help="ingest date (default: today, UTC)")
    parser.add_argument("--keep-running", action="store_true", help="leave the local cloud running afterwards")
    parser.set_defaults(func=_run)


def stages_table(stages: list[demo.Stage]) -> Table:
    table = Table(title="stages", show_edge=False)
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("detail")
    for stage in stages:
        if stage.started is None:
            status = "waiting"
        elif stage.finished is None:
            status = "running"
        else:
            status = "done"
        seconds = "" if stage.seconds is None else f"{stage.seconds:.1f}"
        table.add_row(stage.name, status, seconds, stage.detail)
    return table


def summary(result: demo.DemoResult) -> Group:
    manifest = result.outcome.manifest
    sources = Table(title="rows per source", show_edge=False)
    for column in ("source", "read", "kept", "quarantined"):
        sources.add_column(column, justify="left" if column in ("source", "quarantined") else "right")
    for name, counts in manifest["sources"].items():
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in counts["quarantined"].items() if n) or "-"
        sources.add_row(name, f"{counts['read']:,}", f"{counts['kept']:,}", reasons)
    outcome = result.outcome
    figures = Table(show_header=False, show_edge=False)
    figures.add_row("build", f"{outcome.build_id} ({manifest['status']})")
    figures.add_row("OBT rows", f"{result.obt_rows:,} in movie_analytics.obt")
    figures.add_row("load", demo.ledger_detail(outcome.ledger))
    figures.add_row(
        "latency",
        f"{outcome.latency_seconds:.1f} s from last upload to OBT loaded "
        f"({outcome.outside_spark_seconds:.1f} s outside Spark)",
    )
    insights = Table(title="top insights", show_header=False, show_edge=False)
    for line in result.insights:
        insights.add_row(f"• {line}")
    return Group(figures, sources, insights)


def _run(args: argparse.Namespace) -> int:
    options = demo.DemoOptions(
        state_dir=args.state_dir.absolute(),
        data_dir=args.data_dir,
        scale=args.scale,
        seed=args.seed,
        keep_running=args.keep_running,
    )
    if args.ingest_date:
        options.ingest_date = args.ingest_date
    console = Console(stderr=False)
    if console.is_terminal:
        with Live(console=console, refresh_per_second=4) as live:
            result = demo.run(options, on_change=lambda s: live.update(stages_table(s.stages)))
    else:
        last: list[str] = []

        def report(session: demo.DemoSession) -> None:
            # Without a terminal, print each stage once when it finishes: readable in CI logs.
            for stage in session.stages:
                if stage.finished is not None and stage.name not in last:
                    last.append(stage.name)
                    print(f"[{stage.seconds:6.1f} s] {stage.name}: {stage.detail}", flush=True)

        result = demo.run(options, on_change=report)
    console.print(stages_table(result.stages))
    console.print(summary(result))
    if not args.keep_running:
        console.print(f"local cloud stopped; warehouse kept at {options.state_dir / 'warehouse.duckdb'}")
    else:
        console.print(f"local cloud still running: `obt local status --state-dir {options.state_dir}`")
    return 0
