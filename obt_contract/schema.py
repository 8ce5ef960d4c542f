"""The OBT's columns (``docs/contracts.md``): the build's Parquet holds the data columns, in this order, with these
types; the warehouse table adds ``build_id`` and ``loaded_at``. ``obt/warehouse/sql/obt.sql`` is the table's DDL and
``tests/warehouse/test_schema_contract.py`` checks it against this module, so the two cannot drift.
"""

from __future__ import annotations

from typing import NamedTuple


class Column(NamedTuple):
    name: str
    spark_type: str  # as the job casts it (Spark SQL type name)
    bigquery_type: str  # as obt.sql declares it


DATA_COLUMNS: tuple[Column, ...] = (
    Column("customer_id", "bigint", "INT64"),
    Column("log_date", "date", "DATE"),
    Column("season", "string", "STRING"),
    Column("device", "string", "STRING"),
    Column("location", "string", "STRING"),
    Column("region", "string", "STRING"),
    Column("os", "string", "STRING"),
    Column("browser", "string", "STRING"),
    Column("review_count", "bigint", "INT64"),
    Column("review_score", "bigint", "INT64"),
    Column("amount_spent", "decimal(38,9)", "NUMERIC"),
    Column("count_invoices", "bigint", "INT64"),
    Column("first_invoice_date", "date", "DATE"),
    Column("last_invoice_date", "date", "DATE"),
    # The review tagger's (docs/contracts.md): NULL when the build had no tagger model.
    Column("predicted_positive", "bigint", "INT64"),
    Column("sentiment_score", "double", "FLOAT64"),
)
# Data columns added after builds had been written without them, last among the data columns. A build's Parquet
# may lack them (it loads with NULLs there); an OBT created before them gets them from ``ensure_schema``
# (``obt/warehouse/sql/obt_add_columns.sql``). Every other data column must be in a build's Parquet.
ADDED_COLUMNS: tuple[str, ...] = ("predicted_positive", "sentiment_score")
# Added by the load, not written by the build.
LOAD_COLUMNS: tuple[Column, ...] = (
    Column("build_id", "string", "STRING"),
    Column("loaded_at", "timestamp", "TIMESTAMP"),
)
TABLE_COLUMNS = DATA_COLUMNS + LOAD_COLUMNS
# One row per key.
KEY = ("customer_id", "log_date", "device", "location", "os", "browser")
PARTITION_COLUMN = "log_date"
CLUSTER_COLUMNS = ("customer_id",)
