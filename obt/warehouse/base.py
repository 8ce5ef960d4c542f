"""The warehouse port: what the load use case, the CLI and the insights need from BigQuery or DuckDB.

All SQL lives in ``sql/*.sql``, written once in BigQuery's dialect, with ``{obt}``, ``{staging}``,
``{ledger}`` and ``{dq_counts}`` for table names (each adapter fills in its own qualified names),
``{target_partitions}`` / ``{source_partitions}`` / ``{has_changes}`` for a MERGE's scope (``MergeScope``: literal
SQL made from validated dates only, never from message text) and ``@name`` query parameters.

A load commits its MERGE and its ``loaded`` ledger row together, after reading the ledger in the same
transaction (``Warehouse.merge``): the ledger cannot disagree with the table, so "already loaded" and "older
than the last loaded build" (``LoadState.refusal``) are decided on the truth, whatever crashed before.

A MERGE is bounded by what changed (``MergeScope``): BigQuery bills a MERGE on every partition it scans and
rewrites, so a load MERGEs only the ``log_date`` partitions that differ from the last loaded build, which the OBT
equals (``obt.load.partitions`` computes them). That diff is made outside the transaction, so the transaction also
checks that the last loaded build is still the one it was made against (``MergeScope.stale``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
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
# What ``Warehouse.ensure_schema`` runs, in order: each creates what is missing and leaves the rest alone
# (``obt_add_columns`` upgrades an OBT created before its newest columns, ``load_ledger_add_columns`` the ledger).
SCHEMA_SQL = (
    "obt",
    "obt_add_columns",
    "load_ledger",
    "load_ledger_add_columns",
    "load_lock",
    "load_lock_row",
    "dq_counts",
)


def data_schema() -> tuple[tuple[str, str], ...]:
    """``(column, BigQuery type)`` of the OBT columns a build produces (the Parquet contract), in contract order.

    A build written before ``obt_contract.schema.ADDED_COLUMNS`` lacks those: each adapter stages them as NULL.
    """
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

    def ledger_values(self) -> dict[str, int]:
        """The counts as the ledger's columns."""
        return {"rows_inserted": self.inserted, "rows_updated": self.updated, "rows_deleted": self.deleted}


@dataclass(frozen=True)
class LoadState:
    """The ledger's ``loaded`` rows as one load sees them: has this build been loaded, the newest watermark, and the
    build loaded last (the one the OBT equals) with its manifest; ``None`` before the first load."""

    times_loaded: int
    last_watermark: int | None
    last_build_id: str | None = None
    last_manifest_uri: str | None = None

    def refusal(self, input_watermark: int) -> str | None:
        """Why a build with ``input_watermark`` must not be merged now, or ``None`` when it is the newest.

        Equal watermarks load: builds are ordered by their inputs, and the same inputs make the same build id.
        ``sql/load.sql`` states the same rule in SQL, for BigQuery's in-transaction check.
        """
        if self.times_loaded:
            return "already loaded"
        if self.last_watermark is not None and input_watermark < self.last_watermark:
            return f"older than the last loaded build (input_watermark {input_watermark} < {self.last_watermark})"
        return None


@dataclass(frozen=True)
class MergeScope:
    """Which ``log_date`` partitions of the OBT a MERGE reads and writes.

    ``partitions=None`` is the whole table (a full MERGE: the OBT becomes the build whatever it held). Otherwise
    exactly those dates (possibly none), computed by diffing the build against ``base_build_id``, the last loaded
    build: only correct while the OBT still equals that build, which the load's transaction checks (``stale``).
    The dates become SQL literals (``predicate``), so they must be ``datetime.date`` values, never text.
    """

    partitions: tuple[dt.date, ...] | None = None
    base_build_id: str | None = None

    def __post_init__(self) -> None:
        if self.partitions is None:
            return
        # type(), not isinstance(): a datetime is a date too, and would print a time into the literal.
        if not all(type(day) is dt.date for day in self.partitions):
            raise TypeError(f"partitions must be datetime.date values, got {self.partitions!r}")
        if self.base_build_id is None:
            raise ValueError("a MERGE bounded to some partitions needs the build they were computed against")
        object.__setattr__(self, "partitions", tuple(sorted(set(self.partitions))))

    @property
    def full(self) -> bool:
        return self.partitions is None

    @property
    def empty(self) -> bool:
        """Nothing changed: the load records itself without any MERGE."""
        return self.partitions == ()

    def predicate(self, column: str) -> str:
        """``column IN (DATE '…', …)`` with literal dates, so BigQuery prunes at planning time; ``TRUE`` for the
        whole table, ``FALSE`` for none."""
        if self.partitions is None:
            return "TRUE"
        if not self.partitions:
            return "FALSE"
        dates = ", ".join(f"DATE '{day.isoformat()}'" for day in self.partitions)
        return f"{column} IN ({dates})"

    def stale(self, state: LoadState) -> bool:
        """The last loaded build is no longer the one these partitions were computed against (another load got in
        between): MERGEing them would leave the OBT wrong. A full MERGE is never stale."""
        return self.partitions is not None and state.last_build_id != self.base_build_id

    def ledger_value(self) -> str | None:
        """The ledger's ``partitions``: a JSON array of the dates MERGEd, ``NULL`` for the whole table."""
        if self.partitions is None:
            return None
        return json.dumps([day.isoformat() for day in self.partitions])

    def key(self) -> str:
        """A short name for this scope (BigQuery job ids): ``full``, or a digest of the base and the dates."""
        if self.partitions is None:
            return "full"
        text = "\n".join([self.base_build_id or "", *(day.isoformat() for day in self.partitions)])
        return "p" + hashlib.sha256(text.encode()).hexdigest()[:12]


FULL_MERGE = MergeScope()


@dataclass(frozen=True)
class MergeResult:
    """What ``Warehouse.merge`` did: ``state`` as its transaction read the ledger; ``counts`` and ``ledger`` (the
    row as written) when it merged, ``None`` when ``state.refusal`` refused or the scope was ``stale`` and nothing
    changed."""

    state: LoadState
    counts: MergeCounts | None = None
    ledger: dict[str, Any] | None = None


def ledger_columns() -> tuple[str, ...]:
    return tuple(name for name, _ in ddl_columns("load_ledger"))


def ledger_row(**values: Any) -> dict[str, Any]:
    """A ledger row: every column of ``sql/load_ledger.sql``, ``None`` unless given; an unknown column is an error."""
    unknown = set(values) - set(ledger_columns())
    if unknown:
        raise ValueError(f"not ledger columns: {sorted(unknown)}")
    return {name: values.get(name) for name in ledger_columns()}


def nothing() -> None:
    """The default ``before_ledger`` of ``Warehouse.merge``."""


@dataclass(frozen=True)
class LedgerSummary:
    """What reconcile asks the ledger about some builds: the outcomes recorded for each build that has a row, and
    the newest input watermark loaded so far (``None`` before the first load; also while no ledger exists)."""

    outcomes: Mapping[str, frozenset[str]]
    last_watermark: int | None

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> LedgerSummary:
        """The rows of ``sql/ledger_summary.sql``: (build_id, outcome) pairs, and the watermark on the row without
        a build_id."""
        outcomes: dict[str, set[str]] = {}
        last_watermark = None
        for row in rows:
            if row["build_id"] is None:
                last_watermark = row["last_watermark"]
            else:
                outcomes.setdefault(row["build_id"], set()).add(row["outcome"])
        return cls({build: frozenset(found) for build, found in outcomes.items()}, last_watermark)


# Before the first load there is no ledger table (load_obt creates it): the ledger is empty, not unreadable.
NO_LEDGER = LedgerSummary({}, None)


class Warehouse(Protocol):
    """One warehouse (BigQuery project or DuckDB file) holding the OBT, staging and operations tables."""

    kind: str

    def serialized(self) -> AbstractContextManager[None]:
        """Hold the per-table load lock: loads never interleave (check, stage, MERGE, ledger)."""

    def ensure_schema(self) -> None:
        """Create the datasets and tables that are missing, and the OBT's columns an older OBT lacks
        (``SCHEMA_SQL``); leave everything else alone."""

    def load_state(self, build_id: str) -> LoadState: ...

    def stage(self, build_id: str, uris: list[str]) -> StageResult:
        """Replace the build's staging table with the Parquet objects at ``uris`` (idempotent)."""

    def merge(
        self,
        build_id: str,
        ledger: Mapping[str, Any],
        before_ledger: Callable[[], None] = nothing,
        scope: MergeScope = FULL_MERGE,
    ) -> MergeResult:
        """In ONE transaction: read the ledger, and unless ``LoadState.refusal(ledger["input_watermark"])`` refuses
        or ``scope.stale`` (the last loaded build moved), MERGE the build's staging table into the OBT within
        ``scope`` (no MERGE at all when it is empty) and append ``ledger`` (``outcome`` ``loaded``) completed with
        the MERGE's row counts, ``scope.ledger_value()``, its time and ``finished_at``. An error anywhere,
        ``before_ledger()`` included (called between the MERGE and the ledger row: the test-only fault hook), rolls
        all of it back."""

    def drop_staging(self, build_id: str) -> None: ...

    def record_load(self, row: Mapping[str, Any]) -> None:
        """Append one ledger row (columns of ``sql/load_ledger.sql``)."""

    def record_dq_counts(self, build_id: str, rows: list[dict[str, Any]]) -> None:
        """Store a build's data-quality counts once (rows: source, measure, reason, row_count)."""

    def ledger_summary(self, build_ids: list[str]) -> LedgerSummary:
        """The ledger's outcomes for ``build_ids`` and the newest watermark loaded (read only: creates nothing)."""

    def sql(self, name: str, build_id: str = "", scope: MergeScope = FULL_MERGE) -> str:
        """``sql/NAME.sql`` with this warehouse's qualified table names and ``scope`` (still BigQuery dialect)."""

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run BigQuery-dialect SQL (``@name`` parameters); rows as dicts, ``[]`` for statements."""


def render(
    name: str,
    table: Callable[[str, str], str],
    settings: Settings,
    build_id: str = "",
    scope: MergeScope = FULL_MERGE,
    **parts: str,
) -> str:
    """``sql/NAME.sql`` with its table placeholders filled by ``table(dataset, table)``, its scope placeholders by
    ``scope`` (the target is aliased ``t``), and any other placeholder by ``parts`` (a script made of other
    statements)."""
    return sql_text(name).format(
        obt=table(settings.obt_dataset, settings.obt_table),
        ledger=table(settings.ops_dataset, "load_ledger"),
        dq_counts=table(settings.ops_dataset, "dq_counts"),
        load_lock=table(settings.ops_dataset, "load_lock"),
        staging=table(settings.staging_dataset, staging_table_name(build_id)) if build_id else "{staging}",
        target_partitions=scope.predicate("t.log_date"),
        source_partitions=scope.predicate("log_date"),
        has_changes="FALSE" if scope.empty else "TRUE",
        **parts,
    )
