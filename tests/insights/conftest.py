from __future__ import annotations

import pytest

from obt.warehouse.duckdb import DuckDbWarehouse
from tests.insights.obt_fixture import create_obt, obt_records


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> DuckDbWarehouse:
    return create_obt(tmp_path_factory.mktemp("insights") / "warehouse.duckdb", obt_records())
