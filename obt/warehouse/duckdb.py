"""The local warehouse: one DuckDB file (``Settings.warehouse_path``) running the BigQuery SQL via sqlglot.

Schemas mirror the BigQuery datasets (``movie_analytics.obt``, ``obt_staging.*``, ``obt_ops.*``).
A DuckDB file admits one writing process at a time, and loads must not interleave, so every access
(a whole load, or a single query) holds an exclusive ``flock`` on ``<warehouse>.lock`` and opens the
file only for that long: the function server, the CLI and tests can take turns on the same file.

``merge`` is one DuckDB transaction driven from Python (DuckDB has no procedural SQL for ``sql/load.sql``):
ledger check (refusal, and the scope's base), MERGE within its scope (none when nothing changed), ledger row,
COMMIT; any error rolls back, and a killed process leaves no uncommitted change in the file.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from obt.config import Settings
from obt.log import get_logger
from obt.warehouse import transpile
from obt.warehouse.base import (
    FULL_MERGE,
    NO_LEDGER,
    SCHEMA_SQL,
    LedgerSummary,
    LoadState,
    MergeCounts,
    MergeResult,
    MergeScope,
    StageResult,
    data_columns,
    nothing,
    render,
    staging_table_name,
)
from obt_contract.schema import ADDED_COLUMNS

log = get_logger(__name__)

Fetch = Callable[[str, Path], bool]
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def _table(dataset: str, table: str) -> str:
    return f"{dataset}.{table}"


def _staged_value(column: str, written: set[str]) -> str:
    """What staging takes for ``column`` from a build whose Parquet has the ``written`` columns."""
    return "NULL" if column in ADDED_COLUMNS and column not in written else column


class DuckDbWarehouse:
    kind = "duckdb"

    def __init__(self, settings: Settings, fetch: Fetch | None = None) -> None:
        """``fetch(uri, path)`` downloads a ``gs://`` object, ``False`` if there is none (``Objects.download``)."""
        self.settings = settings
        self.path = Path(settings.warehouse_path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        self._fetch = fetch
        self._local = threading.local()

    # -- sessions -------------------------------------------------------------------------------------------

    @contextmanager
    def serialized(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+") as lock:
            # A separate open file description per session, so threads of one process exclude each other too.
            fcntl.flock(lock, fcntl.LOCK_EX)
            conn = duckdb.connect(str(self.path))
            try:
                conn.execute("SET TimeZone = 'UTC'")
                self._local.conn = conn
                yield
            finally:
                self._local.conn = None
                conn.close()

    @contextmanager
    def _conn(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self.serialized():
            yield self._local.conn

    def _execute(self, conn: duckdb.DuckDBPyConnection, bigquery_sql: str, params: Mapping[str, Any] | None):
        cursor = None
        for statement in transpile.statements(bigquery_sql):
            used = set(_PARAM.findall(statement))
            bound = {k: v for k, v in (params or {}).items() if k in used}
            cursor = conn.execute(statement, bound) if bound else conn.execute(statement)
        return cursor

    # -- port ---------------------------------------------------------------------------------------------

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        with self._conn() as conn:
            cursor = self._execute(conn, sql, params)
            if cursor is None or cursor.description is None:
                return []
            names = [d[0] for d in cursor.description]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def sql(self, name: str, build_id: str = "", scope: MergeScope = FULL_MERGE) -> str:
        """``sql/NAME.sql`` with this warehouse's table names."""
        return render(name, _table, self.settings, build_id, scope)

    def ensure_schema(self) -> None:
        s = self.settings
        with self._conn() as conn:
            for dataset in dict.fromkeys((s.obt_dataset, s.staging_dataset, s.ops_dataset)):
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{dataset}"')
            for name in SCHEMA_SQL:
                self._execute(conn, self.sql(name), None)

    def load_state(self, build_id: str) -> LoadState:
        with self._conn() as conn:
            return self._load_state(conn, build_id)

    def _load_state(self, conn: duckdb.DuckDBPyConnection, build_id: str) -> LoadState:
        times_loaded, last_watermark, last_build_id, last_manifest_uri = self._execute(
            conn, self.sql("load_state"), {"build_id": build_id}
        ).fetchone()
        return LoadState(int(times_loaded or 0), last_watermark, last_build_id, last_manifest_uri)

    def _staging_dir(self, build_id: str) -> Path:
        return Path(self.settings.state_dir) / "staging" / staging_table_name(build_id)

    def _local_file(self, uri: str, folder: Path) -> Path:
        if uri.startswith("gs://"):
            if self._fetch is None:
                raise RuntimeError("the DuckDB warehouse needs a fetch function to read gs:// objects")
            target = folder / uri[len("gs://") :].replace("/", "__")
            if not self._fetch(uri, target):
                raise FileNotFoundError(f"{uri} does not exist")
            return target
        return Path(uri.removeprefix("file://"))

    def stage(self, build_id: str, uris: list[str]) -> StageResult:
        folder = self._staging_dir(build_id)
        folder.mkdir(parents=True, exist_ok=True)
        files = [self._local_file(uri, folder) for uri in uris]
        staging = _table(self.settings.staging_dataset, staging_table_name(build_id))
        paths = {"files": [str(f) for f in files]}
        with self._conn() as conn:
            self._execute(conn, self.sql("staging", build_id), None)
            if files:
                # DuckDB-only: BigQuery stages with a load job instead. Naming the columns makes a Parquet file
                # missing one fail loudly rather than stage NULLs, except a column added after the build was
                # written (ADDED_COLUMNS), which a build from before it lacks and stages as NULL.
                written = conn.execute("SELECT * FROM read_parquet($files) LIMIT 0", paths).description
                values = ", ".join(_staged_value(name, {d[0] for d in written}) for name in data_columns())
                conn.execute(
                    f"INSERT INTO {staging} ({', '.join(data_columns())}) SELECT {values} FROM read_parquet($files)",
                    paths,
                )
            rows = conn.execute(f"SELECT COUNT(*) FROM {staging}").fetchone()[0]
        return StageResult(rows=int(rows), bytes=sum(f.stat().st_size for f in files))

    def merge(
        self,
        build_id: str,
        ledger: Mapping[str, Any],
        before_ledger: Callable[[], None] = nothing,
        scope: MergeScope = FULL_MERGE,
    ) -> MergeResult:
        sql = transpile.to_duckdb(self.sql("merge", build_id, scope)) + " RETURNING merge_action"
        with self._conn() as conn:
            conn.execute("BEGIN TRANSACTION")
            try:
                self._execute(conn, self.sql("take_load_lock"), {"build_id": build_id})
                state = self._load_state(conn, build_id)
                if state.refusal(ledger["input_watermark"]) is not None or scope.stale(state):
                    conn.execute("ROLLBACK")
                    return MergeResult(state)
                started = time.perf_counter()
                merged = MergeCounts(0, 0, 0) if scope.empty else self._merge_counts(conn, sql, build_id)
                before_ledger()
                row = {
                    **ledger,
                    **merged.ledger_values(),
                    "partitions": scope.ledger_value(),
                    "merge_seconds": round(time.perf_counter() - started, 3),
                    "finished_at": datetime.now(UTC),
                }
                self._execute(conn, self.sql("insert_ledger"), row)
                conn.execute("COMMIT")
            except BaseException:
                with suppress(duckdb.TransactionException):  # a failed COMMIT has ended the transaction already
                    conn.execute("ROLLBACK")
                raise
        return MergeResult(state, merged, row)

    @staticmethod
    def _merge_counts(conn: duckdb.DuckDBPyConnection, sql: str, build_id: str) -> MergeCounts:
        # One action per changed row: counted as an array, since a million Python tuples take seconds.
        actions = conn.execute(sql, {"build_id": build_id}).fetchnumpy()["merge_action"]
        values, tallies = np.unique(np.asarray(actions, dtype=str), return_counts=True)
        counts = dict(zip(values.tolist(), tallies.tolist(), strict=True))
        return MergeCounts(
            inserted=counts.get("INSERT", 0), updated=counts.get("UPDATE", 0), deleted=counts.get("DELETE", 0)
        )

    def drop_staging(self, build_id: str) -> None:
        with self._conn() as conn:
            conn.execute(f"DROP TABLE IF EXISTS {_table(self.settings.staging_dataset, staging_table_name(build_id))}")
        shutil.rmtree(self._staging_dir(build_id), ignore_errors=True)

    def record_load(self, row: Mapping[str, Any]) -> None:
        self.query(self.sql("insert_ledger"), row)

    def record_dq_counts(self, build_id: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.query(self.sql("insert_dq_counts"), {"build_id": build_id, "rows": rows})

    def ledger_summary(self, build_ids: list[str]) -> LedgerSummary:
        try:
            return LedgerSummary.from_rows(self.query(self.sql("ledger_summary"), {"build_ids": build_ids}))
        except duckdb.CatalogException:  # no ledger table yet
            return NO_LEDGER
