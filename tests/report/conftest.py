from __future__ import annotations

from pathlib import Path

import pytest

from obt.config import Settings
from obt.warehouse.duckdb import DuckDbWarehouse
from obt_tools.analytics import report
from tests.insights.obt_fixture import create_obt, obt_records
from tests.report.synthetic_obt import add_tagger_columns, create_synthetic_warehouse


def collect(state: Path) -> report.ReportData:
    settings = Settings(state_dir=state, warehouse_path=state / "warehouse.duckdb")
    return report.collect_report(DuckDbWarehouse(settings), settings)


@pytest.fixture(scope="module")
def small_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state folder whose warehouse holds the hand-made OBT of tests/insights (no load in the ledger)."""
    state = tmp_path_factory.mktemp("state")
    create_obt(state / "warehouse.duckdb", obt_records())
    return state


@pytest.fixture(scope="module")
def small_data(small_state: Path) -> report.ReportData:
    return collect(small_state)


@pytest.fixture(scope="module")
def loaded_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic OBT with the ledger row and data-quality counts of its load."""
    state = tmp_path_factory.mktemp("loaded")
    create_synthetic_warehouse(state / "warehouse.duckdb", reviews=20_000)
    return state


@pytest.fixture(scope="module")
def tagged_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small synthetic OBT to which the review tagger has added its columns."""
    state = tmp_path_factory.mktemp("tagged")
    create_synthetic_warehouse(state / "warehouse.duckdb", reviews=3_000)
    add_tagger_columns(state / "warehouse.duckdb")
    return state
