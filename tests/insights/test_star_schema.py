"""The star schema views over the OBT add up to the same totals as the OBT itself."""

from __future__ import annotations

from decimal import Decimal

import pytest

from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools.analytics import insights


@pytest.fixture(scope="module")
def star(warehouse: DuckDbWarehouse) -> DuckDbWarehouse:
    assert insights.create_star_schema(warehouse) == list(insights.STAR_SCHEMA_VIEWS)
    insights.create_star_schema(warehouse)  # idempotent: CREATE OR REPLACE
    return warehouse


def one(warehouse: DuckDbWarehouse, sql: str) -> dict:
    [row] = warehouse.query(sql)
    return row


def test_dimensions_have_one_row_per_value(star: DuckDbWarehouse) -> None:
    counts = {
        name: one(star, f"SELECT COUNT(*) AS n, COUNT(DISTINCT {key}) AS ids FROM movie_analytics.{name}")
        for name, key in [
            ("dim_date", "date_id"), ("dim_device", "device_id"), ("dim_location", "location_id"),
            ("dim_os", "os_id"), ("dim_browser", "browser_id"),
        ]
    }  # fmt: skip
    assert {name: (c["n"], c["ids"]) for name, c in counts.items()} == {
        "dim_date": (7, 7),
        "dim_device": (3, 3),
        "dim_location": (5, 5),
        "dim_os": (5, 5),
        "dim_browser": (4, 4),
    }
    row = one(star, "SELECT date_id, day, month, quarter, year, season FROM movie_analytics.dim_date "
                    "WHERE log_date = DATE '2021-12-25'")  # fmt: skip
    assert row == {"date_id": 20211225, "day": 25, "month": 12, "quarter": 4, "year": 2021, "season": "Winter"}


def test_fact_keeps_every_obt_row_and_total(star: DuckDbWarehouse) -> None:
    totals = "SELECT COUNT(*) AS n, SUM(review_count) AS reviews, SUM(review_score) AS positive FROM movie_analytics.{}"
    assert one(star, totals.format("fact_movie_analytics")) == one(star, totals.format("obt")) == {
        "n": 9, "reviews": 25, "positive": 13
    }  # fmt: skip


def test_fact_joined_to_dimensions_gives_the_obt_breakdowns(star: DuckDbWarehouse) -> None:
    via_star = star.query(
        """
        SELECT l.location AS state, l.region, dv.device, os.os, b.browser, d.log_date, d.season,
               SUM(f.review_count) AS reviews, SUM(f.review_score) AS positive
        FROM movie_analytics.fact_movie_analytics AS f
        JOIN movie_analytics.dim_location AS l USING (location_id)
        JOIN movie_analytics.dim_device AS dv USING (device_id)
        JOIN movie_analytics.dim_os AS os USING (os_id)
        JOIN movie_analytics.dim_browser AS b USING (browser_id)
        JOIN movie_analytics.dim_date AS d USING (date_id)
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        """
    )
    via_obt = star.query(
        """
        SELECT location AS state, region, device, os, browser, log_date, season,
               SUM(review_count) AS reviews, SUM(review_score) AS positive
        FROM movie_analytics.obt
        GROUP BY 1, 2, 3, 4, 5, 6, 7
        ORDER BY 1, 2, 3, 4, 5, 6, 7
        """
    )
    assert via_star == via_obt
    assert len(via_star) == 9


def test_fact_amount_spent_once_per_customer_matches_obt(star: DuckDbWarehouse) -> None:
    row = one(
        star,
        "SELECT SUM(amount_spent) AS total FROM (SELECT customer_id, MAX(amount_spent) AS amount_spent "
        "FROM movie_analytics.fact_movie_analytics GROUP BY customer_id)",
    )
    assert row["total"] == Decimal("2110.5")
