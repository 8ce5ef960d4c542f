"""A fresh DuckDB warehouse per test, its schema created (``test_bigquery_adapter`` has its own ``warehouse``)."""

from __future__ import annotations

import pytest

from obt.config import Settings
from obt.warehouse.duckdb import DuckDbWarehouse


@pytest.fixture
def warehouse(tmp_path):
    settings = Settings(state_dir=tmp_path / "state", warehouse_path=tmp_path / "state" / "warehouse.duckdb")
    wh = DuckDbWarehouse(settings)
    wh.ensure_schema()
    return wh
