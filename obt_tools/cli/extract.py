"""``obt extract`` (the extract function's code, from the command line) and ``obt seed-postgres``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from obt.errors import PermanentError, TransientError, UserError
from obt.extract.export import Progress
from obt.extract.request import DEFAULT_RUN_ID, build_request
from obt.extract.service import run_extract
from obt_tools.cli import reach


def register(subparsers: argparse._SubParsersAction) -> None:
    extract = subparsers.add_parser(
        "extract",
        help="export PostgreSQL tables to the raw bucket (gzip CSV parts + manifest)",
        description="Export tables as one consistent snapshot each; an existing complete snapshot is reused.",
    )
    extract.add_argument(
        "--table",
        action="append",
        dest="tables",
        metavar="T",
        help="table to export (repeatable; must be in OBT_EXTRACT_TABLES; default: user_purchase)",
    )
    extract.add_argument("--ingest-date", metavar="YYYY-MM-DD", help="snapshot date (default: today, UTC)")
    extract.add_argument(
        "--run-id", metavar="R", help=f"snapshot id within the date (default: {DEFAULT_RUN_ID}; a new id re-exports)"
    )
    reach.add_state_dir(extract)
    extract.set_defaults(func=_extract)

    seed = subparsers.add_parser(
        "seed-postgres",
        help="load the UCI purchases CSV into PostgreSQL (replaces the table in one transaction)",
        description="Load a user_purchase CSV (the UCI Online Retail columns) into the PostgreSQL of the local cloud "
        "(or the one OBT_PG_* names), typed, replacing the table's rows in one transaction: a malformed line "
        "changes nothing. `obt extract` then exports it.",
    )
    seed.add_argument("--csv", required=True, type=Path, help="user_purchase.csv, .csv.gz or .csv.xz")
    seed.add_argument("--table", default="user_purchase", help="target table (default: user_purchase)")
    reach.add_state_dir(seed)
    seed.set_defaults(func=_seed)


@contextmanager
def _progress_bar() -> Iterator[Progress | None]:
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    tasks: dict[str, int] = {}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    # stderr, like the logs: stdout carries the result summary only.
    with Bar(*columns, console=Console(stderr=True)) as bar:

        def update(table: str, rows: int, estimate: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=None)
            total = max(estimate, rows) if estimate > 0 else None
            bar.update(tasks[table], completed=rows, total=total)

        yield update


def _extract(args: argparse.Namespace) -> int:
    settings = reach.reach(args, reach.POSTGRES, reach.STORAGE).settings
    request = build_request(
        tables=args.tables, ingest_date=args.ingest_date, run_id=args.run_id, allowed=settings.extract_tables
    )
    try:
        with _progress_bar() as progress:
            outcomes = run_extract(settings, request, progress)
    except (TransientError, PermanentError) as exc:
        raise UserError(str(exc)) from exc
    for outcome in outcomes:
        manifest = outcome.manifest
        what = "already complete, reused" if outcome.reused else "exported"
        print(
            f"{manifest['table']}: {manifest['total_rows']:,} rows in {len(manifest['parts'])} part(s), {what}: "
            f"{outcome.manifest_uri}"
        )
    return 0


def _seed(args: argparse.Namespace) -> int:
    from obt.extract.postgres import connect
    from obt_tools.seed import seed

    settings = reach.reach(args, reach.POSTGRES).settings
    try:
        conn = connect(settings)
    except TransientError as exc:
        raise UserError(str(exc)) from exc
    try:
        result = seed(conn, args.csv, args.table)
    finally:
        conn.close()
    print(f"{result.table}: {result.rows:,} rows loaded from {args.csv}")
    return 0
