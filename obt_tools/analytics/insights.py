"""Business insights over the OBT: the saved queries under ``analytics/sql/`` and their typed answers.

The queries are BigQuery SQL and run unchanged on BigQuery; the local warehouse (DuckDB) runs them through
its transpiler. Each question is one ``.sql`` file. The star schema (``dim_*``, ``fact_movie_analytics``)
lives in the same folder as ``CREATE OR REPLACE VIEW`` statements over the OBT.

Used by ``obt report`` (the HTML dashboard) and by the demo summary (:func:`top_insights`).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

import sqlglot
from sqlglot import exp

from obt.config import Settings
from obt.errors import UserError
from obt.log import get_logger

log = get_logger(__name__)

SQL_DIR = Path(__file__).parent / "sql"

# Created in this order: the fact view joins every dimension view.
STAR_SCHEMA_VIEWS: tuple[str, ...] = (
    "dim_date",
    "dim_device",
    "dim_location",
    "dim_os",
    "dim_browser",
    "fact_movie_analytics",
)

# The saved queries name the OBT and the operations tables as an analyst types them in the BigQuery console.
DATASET, TABLE = "movie_analytics", "obt"
OPS_DATASET = "obt_ops"


class Warehouse(Protocol):
    """The warehouse port as insights need it: run one BigQuery-dialect statement, rows as dicts."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Share:
    """Reviews and positive share for one value of a dimension (region, device, OS or browser)."""

    name: str
    reviews: int
    positive_reviews: int
    positive_share: float | None


@dataclass(frozen=True)
class StateShare:
    state: str
    region: str
    reviews: int
    positive_reviews: int
    positive_share: float | None


@dataclass(frozen=True)
class StateApple:
    """Reviews in one state overall and on Apple's operating systems (iOS + MacOS)."""

    state: str
    reviews: int
    apple_reviews: int


@dataclass(frozen=True)
class StateReviews:
    state: str
    reviews: int


@dataclass(frozen=True)
class RankedState:
    extreme: str  # "most" or "fewest"
    rank: int
    state: str
    reviews: int


@dataclass(frozen=True)
class TopDevice:
    region: str
    device: str
    reviews: int
    region_reviews: int
    devices: int  # devices with reviews in the region: an even split gives each 1 / devices
    share_of_region: float | None


@dataclass(frozen=True)
class CustomerSpend:
    customer_id: int
    amount_spent: Decimal | None  # None: the customer has no clean purchases
    count_invoices: int | None
    first_invoice_date: date | None
    last_invoice_date: date | None
    reviews: int
    review_score: int
    positive_share: float | None


@dataclass(frozen=True)
class SpendSummary:
    customers: int
    customers_with_purchases: int
    amount_spent_total: Decimal | None
    corr_spent_score: float | None
    corr_spent_positive_share: float | None


@dataclass(frozen=True)
class MonthTrend:
    month: date
    reviews: int
    positive_reviews: int
    positive_share: float | None
    customers: int


@dataclass(frozen=True)
class SeasonTrend:
    season: str
    days: int
    reviews: int
    positive_reviews: int
    positive_share: float | None
    reviews_per_day: float | None


@dataclass(frozen=True)
class KeyFigures:
    obt_rows: int
    reviews: int
    positive_reviews: int
    positive_share: float | None
    rows_with_several_reviews: int
    states: int
    first_log_date: date | None
    last_log_date: date | None
    customers: int
    customers_with_purchases: int
    amount_spent_total: Decimal | None


@dataclass(frozen=True)
class Build:
    build_id: str
    last_loaded_at: datetime | None
    rows_from_build: int


@dataclass(frozen=True)
class Insights:
    key_figures: KeyFigures
    latest_build: Build
    by_state: list[StateShare]
    by_region: list[Share]
    by_device: list[Share]
    by_os: list[Share]
    by_browser: list[Share]
    ca_ny_tx: list[StateApple]
    computer_chrome_by_state: list[StateReviews]  # most first
    states_most_fewest: list[RankedState]
    top_device_by_region: list[TopDevice]
    spend_by_customer: list[CustomerSpend]
    spend_summary: SpendSummary
    monthly: list[MonthTrend]
    seasonal: list[SeasonTrend]

    def extreme_states(self, extreme: str) -> list[RankedState]:
        return [r for r in self.states_most_fewest if r.extreme == extreme]

    @property
    def top_state_computer_chrome(self) -> StateReviews | None:
        return self.computer_chrome_by_state[0] if self.computer_chrome_by_state else None


def load_sql(name: str, settings: Settings | None = None, project: str | None = None) -> str:
    """``NAME.sql``, pointed at ``settings``' OBT dataset, table and operations dataset when they are not the
    defaults, and with every table qualified by ``project`` when one is given."""
    path = SQL_DIR / f"{name}.sql"
    if not path.is_file():
        raise KeyError(f"no insight query {name!r} in {SQL_DIR}")
    sql = path.read_text(encoding="utf-8")
    names = (DATASET, TABLE, OPS_DATASET)
    if settings is not None:
        names = (settings.obt_dataset, settings.obt_table, settings.ops_dataset)
    if (*names, project) == (DATASET, TABLE, OPS_DATASET, None):
        return sql
    return rebind(sql, *names, project=project)


def rebind(sql: str, dataset: str, table: str, ops_dataset: str = OPS_DATASET, project: str | None = None) -> str:
    """The query with ``movie_analytics.obt`` (and the star schema views) moved to ``[project.]dataset.table``,
    and the operations tables (``obt_ops.*``) to ``[project.]ops_dataset``."""
    tree = sqlglot.parse_one(sql, read="bigquery")
    for node in tree.find_all(exp.Table):
        if node.db not in (DATASET, OPS_DATASET):
            continue
        if node.db == DATASET and node.name == TABLE:
            node.set("this", exp.to_identifier(table))
        node.set("db", exp.to_identifier(dataset if node.db == DATASET else ops_dataset))
        if project:
            node.set("catalog", exp.to_identifier(project))
    return tree.sql(dialect="bigquery")


def sql_files() -> list[Path]:
    return sorted(SQL_DIR.glob("*.sql"))


def create_star_schema(warehouse: Warehouse, settings: Settings | None = None) -> list[str]:
    """(Re)create the star schema views over the OBT; idempotent (CREATE OR REPLACE).

    On BigQuery the views name their tables with the project: a view's stored query then never depends on
    the default project of whoever queries it.
    """
    project = settings.project if settings is not None and not settings.is_local else None
    for name in STAR_SCHEMA_VIEWS:
        warehouse.query(load_sql(name, settings, project))
    log.info(
        "star schema views created",
        views=list(STAR_SCHEMA_VIEWS),
        dataset=settings.obt_dataset if settings else DATASET,
        reason="CREATE OR REPLACE VIEW over the OBT",
    )
    return list(STAR_SCHEMA_VIEWS)


T = TypeVar("T")

_COERCE: dict[type, Callable[[Any], Any]] = {
    int: int,
    float: float,
    str: str,
    Decimal: lambda v: v if isinstance(v, Decimal) else Decimal(str(v)),
    date: lambda v: v.date() if isinstance(v, datetime) else v if isinstance(v, date) else date.fromisoformat(str(v)),
    datetime: lambda v: v if isinstance(v, datetime) else datetime.fromisoformat(str(v)),
}


def _field_types(cls: type) -> dict[str, tuple[type, bool]]:
    """Each field's base type and whether it may be None (``X | None``)."""
    result: dict[str, tuple[type, bool]] = {}
    for name, hint in typing.get_type_hints(cls).items():
        args = typing.get_args(hint)
        if args:
            base = next(a for a in args if a is not type(None))
            result[name] = (base, type(None) in args)
        else:
            result[name] = (hint, False)
    return result


def to_records(cls: type[T], rows: Sequence[Mapping[str, Any]]) -> list[T]:
    """Typed records from warehouse rows (BigQuery and DuckDB differ in int/float/decimal types)."""
    types = _field_types(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    records = []
    for row in rows:
        missing = [n for n in names if n not in row]
        if missing:
            raise ValueError(f"{cls.__name__}: query result lacks columns {missing}")
        values = {}
        for name in names:
            base, optional = types[name]
            value = row[name]
            if value is None:
                if not optional:
                    raise ValueError(f"{cls.__name__}.{name} is NULL")
                values[name] = None
            else:
                values[name] = _COERCE[base](value)
        records.append(cls(**values))
    return records


def collect(warehouse: Warehouse, settings: Settings | None = None) -> Insights:
    """Run every insight query; a clear error when the OBT holds nothing to analyse."""

    def run(name: str, cls: type[T]) -> list[T]:
        return to_records(cls, warehouse.query(load_sql(name, settings)))

    def shares(name: str, column: str) -> list[Share]:
        rows = warehouse.query(load_sql(name, settings))
        return to_records(Share, [{**row, "name": row[column]} for row in rows])

    builds = run("latest_build", Build)
    if not builds:
        where = f"{settings.obt_dataset}.{settings.obt_table}" if settings else f"{DATASET}.{TABLE}"
        raise UserError(f"{where} is empty: load a build first (for example `obt demo`)")
    [key_figures] = run("key_figures", KeyFigures)
    [spend_summary] = run("spend_vs_score_summary", SpendSummary)
    insights = Insights(
        key_figures=key_figures,
        latest_build=builds[0],
        by_state=run("reviews_by_state", StateShare),
        by_region=shares("reviews_by_region", "region"),
        by_device=shares("reviews_by_device", "device"),
        by_os=shares("reviews_by_os", "os"),
        by_browser=shares("reviews_by_browser", "browser"),
        ca_ny_tx=run("reviews_ca_ny_tx", StateApple),
        computer_chrome_by_state=run("computer_chrome_by_state", StateReviews),
        states_most_fewest=run("states_most_fewest_reviews", RankedState),
        top_device_by_region=run("top_device_by_region", TopDevice),
        spend_by_customer=run("spend_vs_score_by_customer", CustomerSpend),
        spend_summary=spend_summary,
        monthly=run("monthly_trend", MonthTrend),
        seasonal=run("seasonal_trend", SeasonTrend),
    )
    log.info(
        "insights computed",
        build_id=insights.latest_build.build_id,
        obt_rows=key_figures.obt_rows,
        reviews=key_figures.reviews,
        reason="every saved insight query ran on the OBT",
    )
    return insights


def _pct(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.1%}"


def _states(rows: list[RankedState]) -> str:
    top = [r for r in rows if r.rank == 1]
    return " and ".join(f"{r.state} ({r.reviews:,})" for r in top) if top else "none"


def top_insights(insights: Insights) -> list[str]:
    """One line per headline answer, for the demo summary."""
    k = insights.key_figures
    lines = [
        f"{k.reviews:,} reviews, {_pct(k.positive_share)} positive, from {k.customers:,} customers "
        f"in {k.states} states ({k.first_log_date} .. {k.last_log_date})",
        f"most reviews: {_states(insights.extreme_states('most'))}; "
        f"fewest: {_states(insights.extreme_states('fewest'))}",
        "California / New York / Texas: "
        + ", ".join(f"{r.state} {r.reviews:,} ({r.apple_reviews:,} on Apple OS)" for r in insights.ca_ny_tx),
    ]
    chrome = insights.top_state_computer_chrome
    lines.append(
        f"most Computer + Chrome reviews: {chrome.state} ({chrome.reviews:,})"
        if chrome
        else "most Computer + Chrome reviews: none in the data"
    )
    lines.append(
        "top device: "
        + ", ".join(
            f"{d.region} {d.device} ({d.reviews:,}, {_pct(d.share_of_region)})" for d in insights.top_device_by_region
        )
    )
    s = insights.spend_summary
    corr = "n/a" if s.corr_spent_score is None else f"{s.corr_spent_score:+.3f}"
    lines.append(
        f"amount spent vs positive reviews per customer: correlation {corr} "
        f"over {s.customers_with_purchases:,} customers with purchases"
    )
    if insights.monthly:
        busiest = max(insights.monthly, key=lambda m: (m.reviews, m.month))
        lines.append(f"busiest month: {busiest.month:%Y-%m} ({busiest.reviews:,} reviews)")
    per_day = [t for t in insights.seasonal if t.reviews_per_day is not None]
    if per_day:
        season = max(per_day, key=lambda t: t.reviews_per_day or 0.0)
        lines.append(f"busiest season: {season.season} ({season.reviews_per_day:,.0f} reviews a day)")
    return lines
