"""The per-day data the report's date filter sums in the browser agrees with the saved breakdown queries."""

from __future__ import annotations

from datetime import date

import pytest

from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools.analytics import daily, insights
from tests.insights.obt_fixture import create_obt, obt_records


@pytest.fixture(scope="module")
def cube(warehouse: DuckDbWarehouse) -> daily.DailyCube:
    return daily.daily_cube(warehouse)


def totals(cube: daily.DailyCube, dimension: str) -> dict[str, tuple[int, int]]:
    return {name: (sum(s.reviews), sum(s.positive)) for name, s in cube.dimensions[dimension].items()}


def test_cube_agrees_with_the_saved_breakdowns(warehouse: DuckDbWarehouse, cube: daily.DailyCube) -> None:
    result = insights.collect(warehouse)
    assert cube.days == sorted({date.fromisoformat(r[1]) for r in obt_records()})
    assert totals(cube, "state") == {s.state: (s.reviews, s.positive_reviews) for s in result.by_state}
    for dimension, shares in (("region", result.by_region), ("device", result.by_device), ("os", result.by_os),
                              ("browser", result.by_browser)):  # fmt: skip
        assert totals(cube, dimension) == {s.name: (s.reviews, s.positive_reviews) for s in shares}, dimension
        # Most reviews first, whatever dates the reader picks.
        assert list(cube.dimensions[dimension]) == [s.name for s in shares], dimension
    assert totals(cube, "season") == {s.season: (s.reviews, s.positive_reviews) for s in result.seasonal}
    assert list(cube.dimensions["season"]) == ["Winter", "Spring", "Summer", "Fall"]


def test_a_missing_value_gets_a_name(tmp_path) -> None:
    records = [list(r) for r in obt_records()]
    records[0][6] = None  # os
    cube = daily.daily_cube(create_obt(tmp_path / "w.duckdb", [tuple(r) for r in records]))
    assert totals(cube, "os")["(none)"] == (3, 1)


def test_no_tagger_scores_no_model(warehouse: DuckDbWarehouse, cube: daily.DailyCube, tmp_path) -> None:
    """Built without a tagger model (the columns NULL), or an OBT from before the columns: nothing to show."""
    columns = daily.obt_columns(warehouse, cube.days[0])
    assert {"customer_id", "review_count", "loaded_at", *daily.MODEL_COLUMNS} <= columns
    assert daily.model_daily(warehouse, cube.days) is None
    older = create_obt(tmp_path / "older.duckdb", obt_records())
    for column in daily.MODEL_COLUMNS:
        older.query(f"ALTER TABLE movie_analytics.obt DROP COLUMN {column}")
    assert not set(daily.MODEL_COLUMNS) & daily.obt_columns(older, cube.days[0])
    assert daily.model_daily(older, cube.days) is None
