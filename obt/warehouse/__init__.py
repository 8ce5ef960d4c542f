"""Warehouse access: a port (``base.Warehouse``) with a BigQuery and a DuckDB adapter, chosen by ``OBT_ENV``.

For other modules (CLI, insights): ``open_warehouse(settings).query(sql, params)`` runs BigQuery-dialect
SQL on either adapter; ``obt.warehouse.transpile.to_duckdb(sql)`` shows what DuckDB runs.
"""

from __future__ import annotations

from obt.config import Settings
from obt.warehouse.base import Warehouse


def open_warehouse(settings: Settings) -> Warehouse:
    """The warehouse of ``settings.env``: DuckDB (``local``) or BigQuery (``gcp``)."""
    if settings.is_local:
        from obt.objects import BuildObjects
        from obt.warehouse.duckdb import DuckDbWarehouse

        return DuckDbWarehouse(settings, fetch=BuildObjects(settings).download)
    from obt.warehouse.bigquery import BigQueryWarehouse

    return BigQueryWarehouse(settings)


__all__ = ["Warehouse", "open_warehouse"]
