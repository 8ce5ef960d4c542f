"""``obt demo``: run the whole chain on the local cloud with a live view of each stage, then summarise.

In a terminal the stages are a live table. Otherwise (CI logs, ``| tee``) each stage is one line when it
finishes, and a heartbeat line comes every ``HEARTBEAT_SECONDS`` while nothing else was printed, so a long Spark
job is never silence. Arguments are taken as text and checked here, so a bad value is the command's one-line
error worded as ``obt generate`` words it, never an argparse usage dump. A failed build prints the stages and the
rows per source before its one-line cause; SIGTERM or SIGHUP stop the run and the local cloud as Ctrl-C does.

The review tagger is on by default when its labels are where ``make demo`` expects them
(``demo.DEFAULT_TAGGER_LABELS``); without them the demo runs untagged and its tagger stage says why, since a
missing optional file should not stop a first run. A ``--tagger-labels`` file that is not there is an error.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from obt.errors import UserError
from obt_tools import demo
from obt_tools.generate import parse_scale
from obt_tools.local import procs, stack

HEARTBEAT_SECONDS = 15.0


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
    parser.add_argument("--scale", default="1", help="size of generated data (1 = real size)")
    parser.add_argument("--seed", default=str(demo.DEFAULT_SEED), help=f"generator seed (default {demo.DEFAULT_SEED})")
    parser.add_argument("--state-dir", type=Path, default=Path(".obt"), help="local cloud state (default .obt)")
    parser.add_argument("--ingest-date", help="ingest date YYYY-MM-DD (default: today, UTC)")
    parser.add_argument("--keep-running", action="store_true", help="leave the local cloud running afterwards")
    parser.add_argument(
        "--tagger-labels",
        type=Path,
        metavar="FILE",
        help="labelled reviews (CSV review,sentiment; plain or .gz) to train the review tagger on, once: the model "
        f"is cached under STATE/tagger/ (default: {demo.DEFAULT_TAGGER_LABELS} when present)",
    )
    parser.add_argument(
        "--no-tagger", action="store_true", help="no review tagger: predicted_positive and sentiment_score stay NULL"
    )
    parser.set_defaults(func=_run)


def parse_seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise UserError(f"--seed must be an integer, got {text!r}") from None


def parse_ingest_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"--ingest-date must be a real date YYYY-MM-DD, got {text!r}") from None


def tagger_choice(labels: Path | None, no_tagger: bool) -> tuple[Path | None, str]:
    """The labels file to train on (None: no tagging) and, without one, why."""
    if no_tagger:
        if labels is not None:
            raise UserError("--no-tagger and --tagger-labels exclude each other")
        return None, "--no-tagger"
    if labels is not None:
        return labels, ""
    if demo.DEFAULT_TAGGER_LABELS.is_file():
        return demo.DEFAULT_TAGGER_LABELS, ""
    return None, f"no labelled reviews at {demo.DEFAULT_TAGGER_LABELS}; --tagger-labels FILE to give some"


def stages_table(stages: list[demo.Stage]) -> Table:
    table = Table(title="stages", show_edge=False)
    table.add_column("stage")
    table.add_column("status")
    table.add_column("seconds", justify="right")
    table.add_column("detail")
    for stage in stages:
        if stage.failed:
            status = "failed"
        elif stage.started is None:
            status = "waiting"
        elif stage.finished is None:
            status = "running"
        else:
            status = "done"
        seconds = "" if stage.seconds is None else f"{stage.seconds:.1f}"
        table.add_row(stage.name, status, seconds, stage.detail)
    return table


def sources_table(manifest: dict[str, Any]) -> Table:
    sources = Table(title="rows per source", show_edge=False)
    for column in ("source", "read", "kept", "quarantined"):
        sources.add_column(column, justify="left" if column in ("source", "quarantined") else "right")
    for name, counts in manifest["sources"].items():
        reasons = ", ".join(f"{reason} {n:,}" for reason, n in counts["quarantined"].items() if n) or "-"
        sources.add_row(name, f"{counts['read']:,}", f"{counts['kept']:,}", reasons)
    return sources


def summary(result: demo.DemoResult) -> Group:
    manifest = result.outcome.manifest
    sources = sources_table(manifest)
    outcome = result.outcome
    figures = Table(show_header=False, show_edge=False)
    figures.add_row("build", f"{outcome.build_id} ({manifest['status']})")
    figures.add_row("OBT rows", f"{result.obt_rows:,} in movie_analytics.obt")
    figures.add_row("load", demo.ledger_detail(outcome.ledger))
    figures.add_row("review tagger", tagger_detail(manifest))
    figures.add_row(
        "latency",
        f"{outcome.latency_seconds:.1f} s from last upload to OBT loaded "
        f"({outcome.outside_spark_seconds:.1f} s outside Spark)",
    )
    insights = Table(title="top insights", show_header=False, show_edge=False)
    for line in result.insights:
        insights.add_row(f"• {line}")
    return Group(figures, sources, insights)


def tagger_detail(manifest: dict[str, Any]) -> str:
    tagger = manifest.get("tagger")
    if not tagger:
        return "off: predicted_positive and sentiment_score are NULL"
    scored, positive = tagger["reviews_scored"], tagger["predicted_positive"]
    share = f" ({positive / scored:.1%})" if scored else ""
    rule = manifest["metrics"]["positive_reviews"]
    return (
        f"model {tagger['model_version']}: {positive:,} of {scored:,} reviews predicted positive{share}; "
        f"rule 'good': {rule:,}"
    )


class PlainReport:
    """Progress without a terminal: each stage once when it finishes, and a heartbeat while a stage is waited
    on and nothing was printed for ``interval`` seconds (``DemoSession.heartbeat`` says what it knows).

    A failed stage is not printed here: the error line says why (after the stage table, for a failed build)."""

    def __init__(
        self,
        emit: Callable[[str], None],
        interval: float = HEARTBEAT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.emit = emit
        self.interval = interval
        self.clock = clock
        self.printed: list[str] = []
        self.last_output = clock()

    def __call__(self, session: demo.DemoSession) -> None:
        now = self.clock()
        for stage in session.stages:
            if stage.finished is not None and not stage.failed and stage.name not in self.printed:
                self.printed.append(stage.name)
                self.emit(f"[{stage.seconds:6.1f} s] {stage.name}: {stage.detail}")
                self.last_output = now
        if now - self.last_output >= self.interval:
            line = session.heartbeat(now)
            if line is not None:
                self.emit(line)
                self.last_output = now


def _print_line(line: str) -> None:
    print(line, flush=True)


def _run(args: argparse.Namespace) -> int:
    labels, no_tagger_reason = tagger_choice(args.tagger_labels, args.no_tagger)
    options = demo.DemoOptions(
        state_dir=args.state_dir.absolute(),
        data_dir=args.data_dir,
        scale=parse_scale(args.scale),
        seed=parse_seed(args.seed),
        keep_running=args.keep_running,
        tagger_labels=labels,
        no_tagger_reason=no_tagger_reason,
    )
    if args.ingest_date is not None:
        options.ingest_date = parse_ingest_date(args.ingest_date)
    console = Console(stderr=False)
    try:
        if console.is_terminal:
            with Live(console=console, refresh_per_second=4) as live:
                result = demo.run(options, on_change=lambda s: live.update(stages_table(s.stages)))
        else:
            result = demo.run(options, on_change=PlainReport(_print_line))
    except demo.BuildFailed as failed:
        console.print(stages_table(failed.stages))
        if failed.manifest.get("sources"):
            console.print(sources_table(failed.manifest))
        raise
    except procs.Terminated as stopped:
        cloud = "local cloud still running" if stack.running(options.state_dir) else "local cloud stopped"
        print(f"obt demo: {stopped}; {cloud}", file=sys.stderr)
        return 128 + stopped.signum
    console.print(stages_table(result.stages))
    console.print(summary(result))
    if not args.keep_running:
        console.print(f"local cloud stopped; warehouse kept at {options.state_dir / 'warehouse.duckdb'}")
    else:
        console.print(f"local cloud still running: `obt local status --state-dir {options.state_dir}`")
    return 0
