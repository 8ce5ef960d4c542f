"""Every insight answered on a hand-made OBT (tests/insights/obt_fixture.py) whose answers are worked out here."""

from __future__ import annotations

import statistics
from datetime import date
from decimal import Decimal

import pytest
import sqlglot

from obt.config import Settings
from obt.errors import UserError
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools.analytics import insights
from tests.insights.obt_fixture import create_obt


@pytest.fixture(scope="module")
def result(warehouse: DuckDbWarehouse) -> insights.Insights:
    return insights.collect(warehouse)


@pytest.mark.parametrize("path", insights.sql_files(), ids=lambda p: p.name)
def test_every_sql_file_is_bigquery(path) -> None:
    [statement] = sqlglot.parse(path.read_text(), read="bigquery", error_level=sqlglot.ErrorLevel.RAISE)
    assert statement is not None
    # Nothing in it that either engine's generator would have to drop or approximate.
    for dialect in ("bigquery", "duckdb"):
        statement.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)
    # Anything read is the dataset-qualified OBT, a view of the star schema or an operations table.
    ctes = {cte.alias for cte in statement.find_all(sqlglot.exp.CTE)}
    tables = {f"{t.db}.{t.name}" for t in statement.find_all(sqlglot.exp.Table) if t.name and t.name not in ctes}
    assert tables <= {
        "movie_analytics.obt",
        *(f"movie_analytics.{v}" for v in insights.STAR_SCHEMA_VIEWS),
        "obt_ops.load_ledger",
        "obt_ops.dq_counts",
    }


def test_every_query_is_used_by_the_report_or_the_star_schema() -> None:
    used = set(insights.STAR_SCHEMA_VIEWS) | {
        # insights.collect
        "latest_build", "key_figures", "spend_vs_score_summary", "computer_chrome_by_state", "reviews_by_state",
        "reviews_by_region", "reviews_by_device", "reviews_by_os", "reviews_by_browser", "reviews_ca_ny_tx",
        "states_most_fewest_reviews", "top_device_by_region", "spend_vs_score_by_customer", "monthly_trend",
        "seasonal_trend",
        # daily (the date filter's data), operations (freshness and data quality)
        "daily_reviews", "obt_columns", "model_sentiment_daily", "loaded_build", "build_dq_counts",
    }  # fmt: skip
    assert {p.stem for p in insights.sql_files()} == used


def test_key_figures(result: insights.Insights) -> None:
    k = result.key_figures
    assert (k.obt_rows, k.reviews, k.positive_reviews, k.states) == (9, 25, 13, 5)
    # review_count 3, 2, 4, 5, 6 and 2: six keys hold more than one review.
    assert k.rows_with_several_reviews == 6
    assert k.positive_share == pytest.approx(13 / 25)
    assert (k.first_log_date, k.last_log_date) == (date(2021, 1, 15), date(2021, 12, 25))
    assert (k.customers, k.customers_with_purchases) == (4, 3)
    assert k.amount_spent_total == Decimal("2110.5")


def test_latest_build_is_the_last_loaded_not_the_most_rows(result: insights.Insights) -> None:
    assert result.latest_build.build_id == "obt-bbbbbbbbbbbbbbbbbbbb"
    assert result.latest_build.rows_from_build == 1
    assert result.latest_build.last_loaded_at.isoformat().startswith("2026-11-21T09:00:00")


def test_reviews_by_state(result: insights.Insights) -> None:
    got = {(s.state, s.region): (s.reviews, s.positive_reviews) for s in result.by_state}
    assert got == {
        ("Oregon", "West"): (8, 3),
        ("California", "West"): (5, 3),
        ("New York", "East"): (5, 4),
        ("Texas", "East"): (5, 1),
        ("Florida", "East"): (2, 2),
    }
    assert [s.state for s in result.by_state] == ["Oregon", "California", "New York", "Texas", "Florida"]
    assert result.by_state[-1].positive_share == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("attribute", "expected"),
    [
        ("by_region", {"West": (13, 6), "East": (12, 7)}),
        ("by_device", {"Tablet": (11, 7), "Computer": (9, 3), "Mobile": (5, 3)}),
        ("by_os", {"Google Android": (12, 5), "Apple MacOS": (5, 4), "Apple iOS": (3, 3), "Linux": (3, 1),
                   "Microsoft Windows": (2, 0)}),
        ("by_browser", {"Chrome": (12, 5), "Safari": (8, 7), "Firefox": (3, 1), "Edge": (2, 0)}),
    ],
)  # fmt: skip
def test_reviews_and_positive_share_by_dimension(result: insights.Insights, attribute: str, expected: dict) -> None:
    shares = getattr(result, attribute)
    assert {s.name: (s.reviews, s.positive_reviews) for s in shares} == expected
    assert [s.reviews for s in shares] == sorted((s.reviews for s in shares), reverse=True)
    for s in shares:
        assert s.positive_share == pytest.approx(s.positive_reviews / s.reviews)


def test_california_new_york_texas_overall_and_on_apple_os(result: insights.Insights) -> None:
    got = [(r.state, r.reviews, r.apple_reviews) for r in result.ca_ny_tx]
    assert got == [("California", 5, 2), ("New York", 5, 5), ("Texas", 5, 0)]


def test_a_state_without_reviews_still_answers_zero(tmp_path) -> None:
    empty = create_obt(tmp_path / "w.duckdb", [])
    rows = empty.query(insights.load_sql("reviews_ca_ny_tx"))
    assert [(r["state"], r["reviews"], r["apple_reviews"]) for r in rows] == [
        ("California", 0, 0), ("New York", 0, 0), ("Texas", 0, 0)
    ]  # fmt: skip


def test_state_with_most_computer_chrome_reviews(result: insights.Insights) -> None:
    # Oregon has the most reviews overall and the most Chrome reviews, but on Tablet: Texas wins.
    assert result.top_state_computer_chrome == insights.StateReviews("Texas", 5)
    assert result.computer_chrome_by_state == [insights.StateReviews("Texas", 5), insights.StateReviews("Florida", 1)]


def test_states_with_most_and_fewest_reviews(result: insights.Insights) -> None:
    most = [(r.rank, r.state, r.reviews) for r in result.extreme_states("most")]
    fewest = [(r.rank, r.state, r.reviews) for r in result.extreme_states("fewest")]
    assert most == [(1, "Oregon", 8), (2, "California", 5), (2, "New York", 5), (2, "Texas", 5), (5, "Florida", 2)]
    assert fewest == [(1, "Florida", 2), (2, "California", 5), (2, "New York", 5), (2, "Texas", 5), (5, "Oregon", 8)]


def test_top_device_in_east_and_west(result: insights.Insights) -> None:
    got = [(d.region, d.device, d.reviews, d.region_reviews, d.devices) for d in result.top_device_by_region]
    assert got == [("East", "Computer", 6, 12, 3), ("West", "Tablet", 6, 13, 3)]
    assert [d.share_of_region for d in result.top_device_by_region] == pytest.approx([6 / 12, 6 / 13])


def test_spend_vs_score_takes_amount_spent_once_per_customer(result: insights.Insights) -> None:
    got = {c.customer_id: (c.amount_spent, c.reviews, c.review_score) for c in result.spend_by_customer}
    assert got == {
        1: (Decimal("100.5"), 9, 4),
        2: (Decimal("2000"), 12, 7),
        3: (None, 3, 1),
        4: (Decimal("10"), 1, 1),
    }
    dates = {(c.first_invoice_date, c.last_invoice_date) for c in result.spend_by_customer if c.amount_spent}
    assert dates == {(date(2010, 12, 1), date(2011, 12, 9))}
    summary = result.spend_summary
    # Summed over OBT rows the amount would be 100.5*3 + 2000*3 + 10 = 6311.5: the fan-out this guards against.
    assert summary.amount_spent_total == Decimal("2110.5")
    assert (summary.customers, summary.customers_with_purchases) == (4, 3)
    assert summary.corr_spent_score == pytest.approx(statistics.correlation([100.5, 2000, 10], [4, 7, 1]))
    assert summary.corr_spent_positive_share == pytest.approx(
        statistics.correlation([100.5, 2000, 10], [4 / 9, 7 / 12, 1 / 1])
    )


def test_monthly_trend(result: insights.Insights) -> None:
    got = [(m.month, m.reviews, m.positive_reviews, m.customers) for m in result.monthly]
    assert got == [
        (date(2021, 1, 1), 5, 3, 1),
        (date(2021, 2, 1), 1, 0, 1),
        (date(2021, 3, 1), 1, 1, 1),
        (date(2021, 4, 1), 4, 1, 1),
        (date(2021, 7, 1), 11, 7, 1),
        (date(2021, 10, 1), 2, 0, 1),
        (date(2021, 12, 1), 1, 1, 1),
    ]
    assert all(type(m.month) is date for m in result.monthly)


def test_seasonal_trend(result: insights.Insights) -> None:
    got = [(s.season, s.days, s.reviews, s.positive_reviews) for s in result.seasonal]
    assert got == [("Winter", 3, 7, 4), ("Spring", 2, 5, 2), ("Summer", 1, 11, 7), ("Fall", 1, 2, 0)]
    assert [s.reviews_per_day for s in result.seasonal] == pytest.approx([7 / 3, 5 / 2, 11, 2])


def test_top_insights_lines(result: insights.Insights) -> None:
    text = "\n".join(insights.top_insights(result))
    assert "25 reviews, 52.0% positive, from 4 customers in 5 states (2021-01-15 .. 2021-12-25)" in text
    assert "most reviews: Oregon (8); fewest: Florida (2)" in text
    assert "California 5 (2 on Apple OS), New York 5 (5 on Apple OS), Texas 5 (0 on Apple OS)" in text
    assert "most Computer + Chrome reviews: Texas (5)" in text
    assert "top device: East Computer (6, 50.0%), West Tablet (6, 46.2%)" in text
    assert "over 3 customers with purchases" in text
    assert "busiest month: 2021-07 (11 reviews)" in text
    assert "busiest season: Summer (11 reviews a day)" in text


def test_empty_obt_is_a_clear_error(tmp_path) -> None:
    empty = create_obt(tmp_path / "w.duckdb", [])
    with pytest.raises(UserError, match="movie_analytics.obt is empty"):
        insights.collect(empty)


def test_a_result_missing_a_column_is_reported() -> None:
    with pytest.raises(ValueError, match=r"StateReviews: query result lacks columns \['reviews'\]"):
        insights.to_records(insights.StateReviews, [{"state": "Texas"}])


def test_queries_follow_a_renamed_obt() -> None:
    settings = Settings(obt_dataset="analytics_eu", obt_table="obt_v2")
    sql = insights.load_sql("fact_movie_analytics", settings)
    tables = {f"{t.db}.{t.name}" for t in sqlglot.parse_one(sql, read="bigquery").find_all(sqlglot.exp.Table)}
    assert tables == {"analytics_eu.obt_v2", *(f"analytics_eu.{v}" for v in insights.STAR_SCHEMA_VIEWS)}
    assert "CREATE OR REPLACE VIEW analytics_eu.fact_movie_analytics" in sql
    assert insights.load_sql("key_figures", Settings()) == insights.load_sql("key_figures")


def test_operations_queries_follow_a_renamed_ops_dataset() -> None:
    sql = insights.load_sql("loaded_build", Settings(ops_dataset="ops_eu"))
    tables = {f"{t.db}.{t.name}" for t in sqlglot.parse_one(sql, read="bigquery").find_all(sqlglot.exp.Table)}
    assert tables == {"ops_eu.load_ledger"}


def test_star_schema_views_on_bigquery_name_the_project() -> None:
    calls: list[str] = []

    class Recorder:
        def query(self, sql: str, params: dict | None = None) -> list[dict]:
            calls.append(sql)
            return []

    insights.create_star_schema(Recorder(), Settings(env="gcp", project="acme-prod"))
    assert len(calls) == len(insights.STAR_SCHEMA_VIEWS)
    fact = sqlglot.parse_one(calls[-1], read="bigquery")
    tables = {f"{t.catalog}.{t.db}.{t.name}" for t in fact.find_all(sqlglot.exp.Table)}
    assert tables == {
        "acme-prod.movie_analytics.obt",
        *(f"acme-prod.movie_analytics.{v}" for v in insights.STAR_SCHEMA_VIEWS),
    }
