"""``obt status``: running batches, latest builds, loads and data-quality counts (see ``obt_tools.status``)."""

from __future__ import annotations

import argparse

from rich.console import Console

from obt.errors import UserError
from obt.services import Services
from obt_tools.cli import reach
from obt_tools.local.gcs import FILES_DIR
from obt_tools.status import Manifests, StoredManifests, collect, render_status


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="running batches, latest builds, loads and data-quality counts",
        description="Print the OBT batches still running (Dataproc ListBatches), the latest builds (manifests in the "
        "curated bucket), the load ledger (obt_ops.load_ledger) and the data-quality counts (obt_ops.dq_counts) as "
        "tables. With the local cloud down, the builds are read from its state folder.",
    )
    parser.add_argument("--limit", type=int, default=10, help="how many builds and loads to show (default 10)")
    reach.add_state_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UserError("--limit must be at least 1")
    # Nothing is required: what cannot be reached becomes a note (obt_tools.status).
    reached = reach.reach(args)
    settings = reached.settings
    services = Services.from_settings(settings)
    manifests: Manifests | None = services.objects
    if reach.STORAGE not in reached.services:
        stored = reached.state_dir / FILES_DIR
        manifests = StoredManifests(stored) if stored.is_dir() else None
    batches = services.batches if reach.DATAPROC in reached.services else None
    no_file = settings.warehouse == "duckdb" and not settings.warehouse_path.exists()
    warehouse = None if no_file else services.warehouse()
    status = collect(settings, warehouse, manifests, limit=args.limit, batches=batches)
    console = Console()
    if not console.is_terminal:
        # Piped or captured: rich would assume 80 columns and squeeze the build ids.
        console = Console(width=160)
    render_status(status, console)
    return 0
