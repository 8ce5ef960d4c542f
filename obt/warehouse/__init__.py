"""Warehouse access: a port (``base.Warehouse``) with a BigQuery and a DuckDB adapter, chosen by ``OBT_WAREHOUSE``.

For other modules (CLI, insights): ``open_warehouse(settings).query(sql, params)`` runs BigQuery-dialect
SQL on either adapter; ``obt.warehouse.transpile.to_duckdb(sql)`` shows what DuckDB runs.
"""

from __future__ import annotations

from obt.config import Settings
from obt.warehouse.base import Warehouse


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse ``settings.warehouse`` names: DuckDB (``Settings.warehouse_path``) or BigQuery."""
    if settings.warehouse == "duckdb":
        from obt.objects import GcsObjects
        from obt.warehouse.duckdb import DuckDbWarehouse

        # DuckDB cannot read gs:// (least of all the storage emulator): it stages local copies.
        return DuckDbWarehouse(settings, fetch=GcsObjects(settings).download)
    from obt.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(settings)


__all__ = ["Warehouse", "open_warehouse"]
