"""The warehouse port: what the load use case, the CLI and the insights need from BigQuery or DuckDB.

All SQL lives in ``sql/*.sql``, written once in BigQuery's dialect, with ``{obt}``, ``{staging}``,
``{ledger}`` and ``{dq_counts}`` for table names (each adapter fills in its own qualified names) and
``@name`` query parameters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import sqlglot
from sqlglot import exp

from obt.config import Settings


@cache
def sql_text(name: str) -> str:
    """The text of ``sql/NAME.sql``."""
    return resources.files("obt.warehouse").joinpath("sql").joinpath(f"{name}.sql").read_text(encoding="utf-8")


@cache
def ddl_columns(name: str) -> tuple[tuple[str, str], ...]:
    """``(column, BigQuery type)`` of the CREATE TABLE in ``sql/NAME.sql``: the schema's one source."""
    tree = sqlglot.parse_one(sql_text(name).format(obt="t", staging="t", ledger="t", dq_counts="t"), read="bigquery")
    schema = tree.this
    return tuple(
        (col.name, col.args["kind"].sql(dialect="bigquery"))
        for col in schema.expressions
        if isinstance(col, exp.ColumnDef)
    )


# Set by the MERGE, not by a build (sql/staging.sql leaves them out too).
LOAD_COLUMNS = ("build_id", "loaded_at")


def data_schema() -> tuple[tuple[str, str], ...]:
    """``(column, BigQuery type)`` of the 14 OBT columns a build produces (the Parquet contract), in table order."""
    return tuple(column for column in ddl_columns("obt") if column[0] not in LOAD_COLUMNS)


def data_columns() -> tuple[str, ...]:
    return tuple(name for name, _ in data_schema())


_BUILD_ID = re.compile(r"^[a-z][a-z0-9-]{0,62}$")


def staging_table_name(build_id: str) -> str:
    """One staging table per build, so a redelivery re-stages the same table and builds never share one."""
    if not _BUILD_ID.match(build_id):
        raise ValueError(f"build id not usable in a table name: {build_id!r}")
    return "obt_" + build_id.replace("-", "_")


@dataclass(frozen=True)
class StageResult:
    rows: int
    bytes: int


@dataclass(frozen=True)
class MergeCounts:
    inserted: int
    updated: int
    deleted: int


@dataclass(frozen=True)
class LoadState:
    times_loaded: int
    last_watermark: int | None


class Warehouse(Protocol):
    """One warehouse (BigQuery project or DuckDB file) holding the OBT, staging and operations tables."""

    kind: str

    def serialized(self) -> AbstractContextManager[None]:
        """Hold the per-table load lock: loads never interleave (check, stage, MERGE, ledger)."""

    def ensure_schema(self) -> None:
        """Create the datasets and tables that are missing; leave existing ones alone."""

    def load_state(self, build_id: str) -> LoadState: ...

    def stage(self, build_id: str, uris: list[str]) -> StageResult:
        """Replace the build's staging table with the Parquet objects at ``uris`` (idempotent)."""

    def merge(self, build_id: str) -> MergeCounts:
        """MERGE the build's staging table into the OBT (idempotent: a second run changes nothing)."""

    def drop_staging(self, build_id: str) -> None: ...

    def record_load(self, row: Mapping[str, Any]) -> None:
        """Append one ledger row (columns of ``sql/load_ledger.sql``)."""

    def record_dq_counts(self, build_id: str, rows: list[dict[str, Any]]) -> None:
        """Store a build's data-quality counts once (rows: source, measure, reason, row_count)."""

    def sql(self, name: str, build_id: str = "") -> str:
        """``sql/NAME.sql`` with this warehouse's qualified table names (still BigQuery dialect)."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run BigQuery-dialect SQL (``@name`` parameters); rows as dicts, ``[]`` for statements."""


def render(name: str, table: Callable[[str, str], str], settings: Settings, build_id: str = "") -> str:
    """``sql/NAME.sql`` with its table placeholders filled by ``table(dataset, table)``."""
    return sql_text(name).format(
        obt=table(settings.obt_dataset, settings.obt_table),
        ledger=table(settings.ops_dataset, "load_ledger"),
        dq_counts=table(settings.ops_dataset, "dq_counts"),
        staging=table(settings.staging_dataset, staging_table_name(build_id)) if build_id else "{staging}",
    )
