"""Looker Studio over the deployed OBT: a Linking API URL that opens a report wired to the OBT and the star schema
views (https://developers.google.com/looker-studio/integrate/linking-api).

Data source aliases, in this order, are what a template report's data sources must be named: ``ds0`` the OBT,
``ds1`` the fact view, then the dimension views.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from obt.config import Settings
from obt_tools.analytics.insights import STAR_SCHEMA_VIEWS

LINKING_API = "https://lookerstudio.google.com/reporting/create"
REPORT_NAME = "Movie analytics (OBT)"


def tables(settings: Settings) -> list[str]:
    """The BigQuery tables and views of the data sources ds0, ds1, …: the OBT, the fact view, the dimensions."""
    facts = [v for v in STAR_SCHEMA_VIEWS if v.startswith("fact_")]
    return [settings.obt_table, *facts, *(v for v in STAR_SCHEMA_VIEWS if v not in facts)]


def linking_url(settings: Settings, report_id: str | None = None, report_name: str = REPORT_NAME) -> str:
    """The URL; without ``report_id`` Looker Studio starts from its default template."""
    params: list[tuple[str, str]] = [("c.reportId", report_id)] if report_id else []
    params.append(("r.reportName", report_name))
    for i, table in enumerate(tables(settings)):
        alias = f"ds.ds{i}"
        params += [
            (f"{alias}.connector", "bigQuery"),
            (f"{alias}.type", "TABLE"),
            (f"{alias}.projectId", settings.project),
            (f"{alias}.datasetId", settings.obt_dataset),
            (f"{alias}.tableId", table),
            (f"{alias}.datasourceName", table),
        ]
    # quote, not quote_plus: every reserved character (space, "/", "&", "=") is percent-encoded.
    return f"{LINKING_API}?{urlencode(params, quote_via=quote)}"
