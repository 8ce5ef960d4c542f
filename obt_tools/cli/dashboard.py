"""``obt dashboard-url [--report-id ID]``: a Looker Studio link to the deployed OBT and its star schema views."""

from __future__ import annotations

import argparse
import sys

from obt.config import Settings
from obt_tools.analytics import looker


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard-url",
        help="print a Looker Studio link (Linking API) over the deployed OBT and star schema views",
        description="Prints a Looker Studio Linking API URL whose data sources are the OBT (ds0), "
        "fact_movie_analytics (ds1) and the dim_* views (ds2..), in the project and dataset of the settings "
        "(OBT_PROJECT, OBT_DATASET, OBT_TABLE). Opening it creates a report over them; run `obt views` against "
        "BigQuery first so that the views exist.",
    )
    parser.add_argument(
        "--report-id",
        metavar="ID",
        help="a template report whose data sources use the aliases ds0, ds1, … (default: Looker Studio's template)",
    )
    parser.add_argument("--report-name", default=looker.REPORT_NAME, help="name of the new report")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    if settings.project == Settings.project:
        print(
            f"note: {settings.project} is the local default project: set OBT_PROJECT to the deployed one",
            file=sys.stderr,
        )
    aliases = ", ".join(f"ds{i}={table}" for i, table in enumerate(looker.tables(settings)))
    print(f"data sources in {settings.project}.{settings.obt_dataset}: {aliases}", file=sys.stderr)
    print(looker.linking_url(settings, args.report_id, args.report_name))
    return 0
