"""Per-day aggregates the report embeds so that the browser can filter by date without a warehouse.

Per day, not per row: a few hundred days times ~60 dimension values stay small, while the OBT has ~100,000 rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from obt.config import Settings
from obt_tools.analytics.insights import Warehouse, load_sql

# The report's breakdowns, in the order daily_reviews.sql names them.
DIMENSIONS = ("state", "region", "device", "os", "browser", "season")
SEASONS = ("Winter", "Spring", "Summer", "Fall")

# The review tagger's OBT columns (docs/contracts.md); the model section needs both.
MODEL_COLUMNS = ("predicted_positive", "sentiment_score")


@dataclass(frozen=True)
class Series:
    """Reviews and positive reviews of one dimension value, one entry per day of ``DailyCube.days``."""

    reviews: list[int]
    positive: list[int]


@dataclass(frozen=True)
class DailyCube:
    days: list[date]  # every day with reviews, ascending
    dimensions: dict[str, dict[str, Series]]  # dimension -> value -> series


@dataclass(frozen=True)
class ModelDaily:
    """The tagger's counts per day of ``DailyCube.days`` (see model_sentiment_daily.sql)."""

    tagged_reviews: list[int]
    model_positive: list[int]
    scored_reviews: list[int]
    score_sum: list[float]


def _value_order(dimension: str, values: dict[str, Series]) -> list[str]:
    if dimension == "season":
        return sorted(values, key=lambda v: (SEASONS.index(v) if v in SEASONS else len(SEASONS), v))
    # Most reviews first, so that each breakdown keeps one order whatever date range is picked.
    return sorted(values, key=lambda v: (-sum(values[v].reviews), v))


def daily_cube(warehouse: Warehouse, settings: Settings | None = None) -> DailyCube:
    rows = warehouse.query(load_sql("daily_reviews", settings))
    days = sorted({row["log_date"] for row in rows})
    index = {day: i for i, day in enumerate(days)}
    found: dict[str, dict[str, Series]] = {d: {} for d in DIMENSIONS}
    for row in rows:
        value = "(none)" if row["value"] is None else row["value"]
        series = found[row["dimension"]].setdefault(value, Series([0] * len(days), [0] * len(days)))
        series.reviews[index[row["log_date"]]] = int(row["reviews"])
        series.positive[index[row["log_date"]]] = int(row["positive_reviews"])
    return DailyCube(days, {d: {v: found[d][v] for v in _value_order(d, found[d])} for d in DIMENSIONS})


def obt_columns(warehouse: Warehouse, any_day: date, settings: Settings | None = None) -> set[str]:
    """The OBT's column names, read from one row of ``any_day`` (a day that has rows)."""
    rows = warehouse.query(load_sql("obt_columns", settings), {"log_date": any_day})
    return set(rows[0]) if rows else set()


def model_daily(warehouse: Warehouse, days: list[date], settings: Settings | None = None) -> ModelDaily | None:
    """The tagger's daily counts, or None while no review in the OBT is scored (the tagger is not loaded): its
    columns are NULL (built without a model) or absent (an OBT not yet upgraded by a load since they exist)."""
    if not days or not set(MODEL_COLUMNS) <= obt_columns(warehouse, days[0], settings):
        return None
    index = {day: i for i, day in enumerate(days)}
    model = ModelDaily([0] * len(days), [0] * len(days), [0] * len(days), [0.0] * len(days))
    for row in warehouse.query(load_sql("model_sentiment_daily", settings)):
        i = index[row["log_date"]]
        model.tagged_reviews[i] = int(row["tagged_reviews"] or 0)
        model.model_positive[i] = int(row["model_positive_reviews"] or 0)
        model.scored_reviews[i] = int(row["scored_reviews"] or 0)
        model.score_sum[i] = float(row["sentiment_score_sum"] or 0.0)
    return model if any(model.tagged_reviews) else None
