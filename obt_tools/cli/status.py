"""``obt status``: latest builds, loads and data-quality counts (see ``obt_tools.status``)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console

from obt.config import Settings
from obt.errors import UserError
from obt.services import Services
from obt_tools.backfill import use_local_cloud
from obt_tools.status import collect, render_status


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="latest builds, loads and data-quality counts",
        description="Print the latest builds (manifests in the curated bucket), the load ledger "
        "(obt_ops.load_ledger) and the data-quality counts (obt_ops.dq_counts) as tables.",
    )
    parser.add_argument("--limit", type=int, default=10, help="how many builds and loads to show (default 10)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    try:
        use_local_cloud(os.environ)
        reachable = True
    except UserError:
        # Without the local cloud the warehouse file can still be read; the builds become a note.
        reachable = False
    settings = Settings.from_env()
    services = Services.from_settings(settings)
    no_file = settings.warehouse == "duckdb" and not Path(settings.warehouse_path).exists()
    warehouse = None if no_file else services.warehouse()
    objects = services.objects if reachable else None
    status = collect(settings, warehouse, objects, limit=args.limit)
    console = Console()
    if not console.is_terminal:
        # Piped or captured: rich would assume 80 columns and squeeze the build ids.
        console = Console(width=160)
    render_status(status, console)
    return 0
