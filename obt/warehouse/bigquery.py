"""The BigQuery adapter: load jobs into a staging table; the MERGE and its ledger row as one transaction.

A load is one script job (``sql/load.sql``): BEGIN TRANSACTION, read the ledger, MERGE, append the ``loaded``
ledger row, COMMIT. A crash anywhere leaves either all of it or nothing (BigQuery rolls back a script that ends
without COMMIT), so the ledger always says which build the OBT holds. The MERGE's row counts come back in the
script's last SELECT; ``merge_seconds`` stays NULL, since inside a transaction time stands still
(``CURRENT_TIMESTAMP()`` is its start): the job's own statistics hold its duration.

Idempotence under at-least-once delivery comes from deterministic job ids: the load of build B is job
``obt_load_B`` and its script ``obt_merge_B`` (a full MERGE) or ``obt_merge_B_pXXXXXXXXXXXX`` (a MERGE bounded to
some partitions: the suffix digests them and the build they were computed against, so a script that found that
build moved and did nothing is never taken for the answer to the next plan). A redelivery that finds the job (409)
fetches it and waits on it instead of running the work twice, so a load that committed just before a crash is
reported with its own row counts. When such an existing job failed, its id is spent: the next one is ``…_2``,
``…_3`` …
A job id is never retried by the client library itself (``job_retry=None``): the same id cannot run twice.

BigQuery allows few concurrent mutating DML statements per table and cancels one of two transactions that
mutate the same table at once. Every load script first updates the one row of ``obt_ops.load_lock``
(``sql/load_lock.sql``), so any two loads conflict, a load that changes no partition (no MERGE, an appended ledger
row) included; the function runs with concurrency 1 besides, which Cloud Run may exceed briefly. The script is
retried with backoff on "concurrent update" / serialization errors, reading the ledger afresh each time.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import bigquery

from obt.clients import bigquery_client
from obt.config import Settings
from obt.errors import TransientError
from obt.log import get_logger
from obt.retryable import is_transient
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
    data_schema,
    ddl_columns,
    nothing,
    render,
    staging_table_name,
)

log = get_logger(__name__)

STAGING_EXPIRATION_MS = 24 * 3600 * 1000
# Job ids already tried for one piece of work; beyond this, something is badly wrong (let the DLQ show it).
MAX_JOB_IDS = 20
_ENSURED: set[tuple[str, ...]] = set()
# Ledger columns that sql/load.sql fills from its own variables, not from query parameters.
SCRIPT_VALUES = {
    "rows_inserted": "inserted_rows",
    "rows_updated": "updated_rows",
    "rows_deleted": "deleted_rows",
    "merge_seconds": "NULL",
    "finished_at": "merged_at",
}
_PARAMETER = re.compile(r"(?<!@)@(\w+)")


def is_concurrent_update(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "concurrent update" in text or "could not serialize access" in text


def _scalar_type(value: Any) -> str:
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, Decimal):
        return "NUMERIC"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    return "STRING"


def query_parameters(params: Mapping[str, Any] | None, types: Mapping[str, str] | None = None) -> list[Any]:
    """Python values -> BigQuery query parameters; ``types`` names the type of values that may be None."""
    out: list[Any] = []
    for name, value in (params or {}).items():
        if isinstance(value, list) and value and all(isinstance(v, Mapping) for v in value):
            field_types: dict[str, str] = {}
            for row in value:
                for key, item in row.items():
                    if item is not None:
                        field_types.setdefault(key, _scalar_type(item))
            structs = [
                bigquery.StructQueryParameter(
                    None, *(bigquery.ScalarQueryParameter(k, field_types.get(k, "STRING"), v) for k, v in row.items())
                )
                for row in value
            ]
            out.append(bigquery.ArrayQueryParameter(name, "STRUCT", structs))
        elif isinstance(value, list | tuple):
            kind = _scalar_type(value[0]) if value else (types or {}).get(name, "STRING")
            out.append(bigquery.ArrayQueryParameter(name, kind, list(value)))
        else:
            kind = (types or {}).get(name) or _scalar_type(value)
            out.append(bigquery.ScalarQueryParameter(name, kind, value))
    return out


class BigQueryWarehouse:
    kind = "bigquery"

    def __init__(
        self,
        settings: Settings,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 6,
    ) -> None:
        self.settings = settings
        self.client = client if client is not None else bigquery_client(settings.project, settings.bq_location)
        self._sleep = sleep
        self._max_retries = max_retries

    def _table(self, dataset: str, table: str) -> str:
        return f"`{self.settings.project}.{dataset}.{table}`"

    def sql(self, name: str, build_id: str = "", scope: MergeScope = FULL_MERGE) -> str:
        """``sql/NAME.sql`` with this warehouse's table names."""
        return render(name, self._table, self.settings, build_id, scope)

    def staging_table_id(self, build_id: str) -> str:
        return f"{self.settings.project}.{self.settings.staging_dataset}.{staging_table_name(build_id)}"

    @contextmanager
    def serialized(self) -> Iterator[None]:
        # Serialised by the deployment (max instances 1, concurrency 1) and by the load lock row each load's
        # transaction updates (module docstring): a BigQuery table has no lock a client could hold across jobs.
        yield

    # -- queries ------------------------------------------------------------------------------------------

    def _run_query(self, sql: str, params: Mapping[str, Any] | None = None, types: Mapping[str, str] | None = None):
        """A query job, retried with backoff when BigQuery reports a concurrent update."""
        for attempt in range(1, self._max_retries + 1):
            config = bigquery.QueryJobConfig(query_parameters=query_parameters(params, types))
            try:
                job = self.client.query(sql, job_config=config, location=self.settings.bq_location)
                return job, job.result()
            except gexc.GoogleAPICallError as exc:
                if is_concurrent_update(exc) and attempt < self._max_retries:
                    self._backoff(attempt, exc)
                    continue
                if is_transient(exc):
                    raise TransientError(f"BigQuery query failed: {exc}") from exc
                raise
        raise TransientError("BigQuery query kept hitting concurrent updates")

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        _, rows = self._run_query(sql, params)
        return [dict(row.items()) for row in rows]

    def _backoff(self, attempt: int, exc: BaseException) -> None:
        delay = min(60.0, 2.0 ** (attempt - 1)) * (0.5 + random.random())
        log.warning(
            "BigQuery concurrent update, retrying", attempt=attempt, delay_seconds=round(delay, 2), error=str(exc)
        )
        self._sleep(delay)

    # -- schema -------------------------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        s = self.settings
        key = (s.project, s.bq_location, s.obt_dataset, s.obt_table, s.staging_dataset, s.ops_dataset)
        if key in _ENSURED:
            return
        for name in dict.fromkeys((s.obt_dataset, s.staging_dataset, s.ops_dataset)):
            dataset = bigquery.Dataset(f"{s.project}.{name}")
            dataset.location = s.bq_location
            if name == s.staging_dataset:
                dataset.default_table_expiration_ms = STAGING_EXPIRATION_MS
            self.client.create_dataset(dataset, exists_ok=True)
        for name in SCHEMA_SQL:
            self._run_query(self.sql(name))
        _ENSURED.add(key)

    # -- loads --------------------------------------------------------------------------------------------

    def _deterministic_job(self, kind: str, build_id: str, submit: Callable[[str], Any], usable=None, suffix: str = ""):
        """Run ``submit(job_id)`` under ids ``obt_KIND_B[_SUFFIX]``, then ``…_2``, …; reuse an existing job (409)."""
        base = f"obt_{kind}_{build_id}" + (f"_{suffix}" if suffix else "")
        retries = 0
        for index in range(1, MAX_JOB_IDS + 1):
            job_id = base if index == 1 else f"{base}_{index}"
            try:
                job = submit(job_id)
                reused = False
            except gexc.Conflict:
                job = self.client.get_job(job_id, location=self.settings.bq_location)
                reused = True
                log.info("job already exists, using it", job_id=job_id, kind=kind, build_id=build_id)
            try:
                job.result()
            except gexc.GoogleAPICallError as exc:
                if reused:
                    log.warning("existing job had failed; its id is spent", job_id=job_id, error=str(exc))
                    continue
                if is_concurrent_update(exc) and retries < self._max_retries:
                    retries += 1
                    self._backoff(retries, exc)
                    continue
                if is_transient(exc):
                    raise TransientError(f"BigQuery {kind} job {job_id} failed: {exc}") from exc
                raise
            if reused and usable is not None and not usable():
                log.warning("existing job's output is gone; running it again", job_id=job_id, kind=kind)
                continue
            return job
        raise TransientError(f"BigQuery {kind} of {build_id}: no usable job among {MAX_JOB_IDS} ids")

    def load_job_config(self) -> bigquery.LoadJobConfig:
        """Every data column, in contract order. A Parquet load matches columns by name and loads a NULLABLE
        column the files lack as NULL: that is how a build written before ``ADDED_COLUMNS`` stages."""
        return bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            schema=[bigquery.SchemaField(name, kind) for name, kind in data_schema()],
            decimal_target_types=["NUMERIC", "BIGNUMERIC"],
            # Partitioned like the OBT (and sql/staging.sql): a MERGE bounded to some partitions reads only those.
            time_partitioning=bigquery.TimePartitioning(type_=bigquery.TimePartitioningType.DAY, field="log_date"),
        )

    def _staging_exists(self, build_id: str) -> bool:
        try:
            self.client.get_table(self.staging_table_id(build_id))
        except gexc.NotFound:
            return False
        return True

    def stage(self, build_id: str, uris: list[str]) -> StageResult:
        destination = self.staging_table_id(build_id)
        if not uris:
            # A load job needs a source; an empty build stages an empty table.
            self._run_query(self.sql("staging", build_id))
            return StageResult(rows=0, bytes=0)
        job = self._deterministic_job(
            "load",
            build_id,
            lambda job_id: self.client.load_table_from_uri(
                uris,
                destination,
                job_id=job_id,
                job_config=self.load_job_config(),
                location=self.settings.bq_location,
            ),
            usable=lambda: self._staging_exists(build_id),
        )
        return StageResult(rows=int(job.output_rows or 0), bytes=int(job.input_file_bytes or 0))

    def load_script(self, build_id: str, scope: MergeScope = FULL_MERGE) -> str:
        """``sql/load.sql`` made whole: the ledger check, the MERGE within ``scope`` and the ledger row of
        ``build_id``."""
        insert = _PARAMETER.sub(lambda m: SCRIPT_VALUES.get(m[1], m[0]), self.sql("insert_ledger"))
        return render(
            "load",
            self._table,
            self.settings,
            build_id,
            scope,
            take_lock=self.sql("take_load_lock").strip(),
            load_state=self.sql("load_state").strip(),
            merge=self.sql("merge", build_id, scope).strip(),
            insert_ledger=insert.strip(),
        )

    def merge(
        self,
        build_id: str,
        ledger: Mapping[str, Any],
        before_ledger: Callable[[], None] = nothing,
        scope: MergeScope = FULL_MERGE,
    ) -> MergeResult:
        # No client-side moment lies between the script's MERGE and its ledger row; the hook runs before the job,
        # which leaves what a crash inside the transaction leaves: nothing committed.
        before_ledger()
        script = self.load_script(build_id, scope)
        ledger = {**ledger, "partitions": scope.ledger_value()}
        used = set(_PARAMETER.findall(script))
        params = {
            **{k: v for k, v in ledger.items() if k in used},
            "build_id": build_id,
            # Checked, not formatted into the script: NULL for a full MERGE, which no other load can make wrong.
            "base_build_id": None if scope.full else scope.base_build_id,
        }
        types = {**dict(ddl_columns("load_ledger")), "base_build_id": "STRING"}
        config = bigquery.QueryJobConfig(query_parameters=query_parameters(params, types))
        job = self._deterministic_job(
            "merge",
            build_id,
            lambda job_id: self.client.query(
                script, job_config=config, job_id=job_id, location=self.settings.bq_location, job_retry=None
            ),
            suffix="" if scope.full else scope.key(),
        )
        (result,) = (dict(row.items()) for row in job.result())
        state = LoadState(
            times_loaded=int(result["times_loaded"] or 0),
            last_watermark=result["last_watermark"],
            last_build_id=result.get("last_build_id"),
        )
        if result["inserted_rows"] is None:
            return MergeResult(state)
        counts = MergeCounts(
            inserted=int(result["inserted_rows"]),
            updated=int(result["updated_rows"]),
            deleted=int(result["deleted_rows"]),
        )
        row = {**ledger, **counts.ledger_values(), "merge_seconds": None, "finished_at": result["merged_at"]}
        return MergeResult(state, counts, row)

    def drop_staging(self, build_id: str) -> None:
        self.client.delete_table(self.staging_table_id(build_id), not_found_ok=True)

    # -- ledger and data quality ------------------------------------------------------------------------

    def load_state(self, build_id: str) -> LoadState:
        row = self.query(self.sql("load_state"), {"build_id": build_id})[0]
        return LoadState(
            times_loaded=int(row["times_loaded"] or 0),
            last_watermark=row["last_watermark"],
            last_build_id=row.get("last_build_id"),
            last_manifest_uri=row.get("last_manifest_uri"),
        )

    def record_load(self, row: Mapping[str, Any]) -> None:
        self._run_query(self.sql("insert_ledger"), row, dict(ddl_columns("load_ledger")))

    def record_dq_counts(self, build_id: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self._run_query(self.sql("insert_dq_counts"), {"build_id": build_id, "rows": rows})

    def ledger_summary(self, build_ids: list[str]) -> LedgerSummary:
        try:
            return LedgerSummary.from_rows(self.query(self.sql("ledger_summary"), {"build_ids": build_ids}))
        except gexc.NotFound:  # no ledger table (or ops dataset) yet
            return NO_LEDGER
