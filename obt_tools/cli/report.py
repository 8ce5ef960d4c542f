"""Insight commands.

``obt report --out DIR [--state-dir DIR]``: the insight dashboard of the warehouse's OBT as one HTML file.
``obt views [--state-dir DIR]``: (re)create the star schema views (``dim_*``, ``fact_movie_analytics``) over the OBT.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from obt.config import Settings
from obt.errors import UserError
from obt.warehouse import open_warehouse
from obt_tools.analytics import insights
from obt_tools.analytics.report import collect_report, write_report
from obt_tools.cli import reach


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "report",
        help="write the insight dashboard (self-contained HTML) for movie_analytics.obt",
        description="Runs the saved insight queries on the warehouse and writes DIR/index.html: data-quality and "
        "freshness panel, review and purchase charts with tooltips, a review-date filter, sortable tables and CSV "
        "exports, all in one file that opens offline in any browser.",
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for index.html")
    reach.add_state_dir(parser)
    parser.set_defaults(func=run)

    views = subparsers.add_parser(
        "views",
        help="create or replace the star schema views (dim_*, fact_movie_analytics) over movie_analytics.obt",
        description="Create or replace the star schema over movie_analytics.obt: fact_movie_analytics and the "
        "dim_* views (date, location, device, OS, browser), in the warehouse of the settings (the local DuckDB file, "
        "or BigQuery with OBT_ENV=gcp), for Looker Studio (`obt dashboard-url`) and SQL users.",
    )
    reach.add_state_dir(views)
    views.set_defaults(func=run_views)


def settings_for(state_dir: Path | None, env: dict[str, str] | None = None) -> Settings:
    """The settings ``--state-dir`` gives (``obt_tools.cli.reach``), over a copy of ``env`` (default: os.environ)."""
    environ = dict(os.environ if env is None else env)
    return reach.reach(argparse.Namespace(state_dir=state_dir), environ=environ).settings


def _existing_warehouse(state_dir: Path | None) -> Settings:
    settings = settings_for(state_dir)
    if settings.is_local and not settings.warehouse_path.is_file():
        raise UserError(f"no local warehouse at {settings.warehouse_path}: run `obt demo` first or pass --state-dir")
    return settings


def run(args: argparse.Namespace) -> int:
    settings = _existing_warehouse(args.state_dir)
    data = collect_report(open_warehouse(settings), settings)
    path = write_report(data, args.out)
    for line in insights.top_insights(data.insights):
        print(f"  {line}")
    print(f"report for build {data.operations.build_id} written to {path}")
    print(f"open it offline in any browser: {path.resolve().as_uri()}")
    return 0


def run_views(args: argparse.Namespace) -> int:
    settings = _existing_warehouse(args.state_dir)
    created = insights.create_star_schema(open_warehouse(settings), settings)
    print(f"created or replaced views {', '.join(f'{settings.obt_dataset}.{name}' for name in created)}")
    return 0
