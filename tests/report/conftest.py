from __future__ import annotations

from pathlib import Path

import pytest

from obt.config import Settings
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools.analytics import insights
from tests.insights.obt_fixture import create_obt, obt_records


@pytest.fixture(scope="module")
def small_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose warehouse holds the hand-made OBT of tests/insights."""
    state = tmp_path_factory.mktemp("state")
    create_obt(state / "warehouse.duckdb", obt_records())
    return state


@pytest.fixture(scope="module")
def small_insights(small_state: Path) -> insights.Insights:
    settings = Settings(state_dir=small_state, warehouse_path=small_state / "warehouse.duckdb")
    return insights.collect(DuckDbWarehouse(settings), settings)
