"""Export one table as one consistent snapshot: ``COPY (SELECT cols FROM table) TO STDOUT`` → gzip parts → manifest.

Order of work, and why it makes retries safe:

1. If ``_MANIFEST.json`` already exists for (table, ingest date, run id), the snapshot is complete: return
   it without touching the database (a retried Cloud Scheduler request lands here).
2. In a ``REPEATABLE READ, READ ONLY`` transaction, read the snapshot time and the column types, then stream
   ``COPY`` through ``GzipPartWriter`` into resumable uploads named ``part-00000.csv.gz``, … Part names are
   deterministic, so a retry after a failure overwrites the earlier attempt's parts.
3. The row count the writer saw must equal the server's ``COPY n`` tag: the manifest's numbers are the
   server's, not an estimate.
4. Parts a failed earlier attempt left beyond this run's last part are deleted.
5. The manifest is written last, with ``ifGenerationMatch=0``: if a concurrent attempt finished first,
   its manifest wins and is returned. Any failure before this step leaves no manifest, so nothing
   downstream fires on a partial export.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from obt.errors import PermanentError
from obt.extract.copyout import fast_copy_out
from obt.extract.manifest import build_manifest, check_manifest
from obt.extract.parts import GzipPartWriter, Part
from obt.extract.postgres import quote_ident
from obt.extract.storage import StorageFailure, storage_errors
from obt.log import get_logger
from obt.objects import NotJsonObject, Objects
from obt_contract.layout import classify_raw, gs_uri, snapshot_manifest_name, snapshot_prefix

log = get_logger(__name__)

# Progress callback: (table, rows exported so far, planner's row estimate or -1 when unknown).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Snapshot:
    time: datetime
    columns: list[tuple[str, str]]
    rows: int


@dataclass(frozen=True)
class ExtractOutcome:
    manifest: dict[str, Any]
    manifest_uri: str
    reused: bool


_COLUMNS_SQL = (
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
    "WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"
)
_ESTIMATE_SQL = "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)"


def copy_sql(table: str, columns: list[tuple[str, str]]) -> str:
    names = ", ".join(quote_ident(name) for name, _ in columns)
    return f"COPY (SELECT {names} FROM {quote_ident(table)}) TO STDOUT WITH (FORMAT csv, HEADER true)"


def copy_snapshot(
    conn, table: str, writer: GzipPartWriter, on_estimate: Callable[[int], None] | None = None
) -> Snapshot:
    """Stream the table into ``writer`` inside one REPEATABLE READ transaction (``conn`` in autocommit).

    After an exception the connection may be unusable: close it.
    """
    cursor = conn.cursor()
    cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
    try:
        # The first statement of a REPEATABLE READ transaction takes its snapshot: this is the data's time.
        cursor.execute("SELECT statement_timestamp()")
        snapshot_time = cursor.fetchone()[0]
        # COPY renders timestamps per DateStyle; the contract promises ISO (YYYY-MM-DD HH:MM:SS).
        cursor.execute("SET LOCAL DateStyle = 'ISO, YMD'")
        cursor.execute(_COLUMNS_SQL, (quote_ident(table),))
        columns = [(str(name), str(kind)) for name, kind in cursor.fetchall()]
        if not columns:
            raise PermanentError(f"table {table!r} is allow-listed but does not exist in the database")
        if on_estimate is not None:
            cursor.execute(_ESTIMATE_SQL, (quote_ident(table),))
            on_estimate(int(cursor.fetchone()[0]))
    except BaseException:
        _rollback(cursor)
        raise
    # A failure while COPY streams leaves the protocol mid-message: no ROLLBACK is possible, the caller
    # must close the connection (``shared_connection`` does), and the server then aborts the transaction.
    with fast_copy_out(conn):
        cursor.execute(copy_sql(table, columns), stream=writer)
    copied = cursor.rowcount
    cursor.execute("COMMIT")
    return Snapshot(snapshot_time, columns, copied)


def _rollback(cursor) -> None:
    try:
        cursor.execute("ROLLBACK")
    except Exception as exc:  # a lost link needs no ROLLBACK: the server aborts the transaction itself
        log.debug("rollback after a failed export did not complete", error=str(exc))


def extract_table(
    connection: Callable[[], AbstractContextManager[Any]],
    objects: Objects,
    bucket: str,
    *,
    table: str,
    ingest_date: date,
    run_id: str,
    part_bytes: int,
    open_part: Callable[[int], Any],
    progress: Progress | None = None,
) -> ExtractOutcome:
    """Export ``table`` for (ingest_date, run_id) unless that snapshot is already complete.

    ``connection()`` yields a database connection; it is only opened when an export is needed. The manifest
    and leftover parts go through ``objects``; the parts themselves through ``open_part``.
    """
    manifest_uri = gs_uri(bucket, snapshot_manifest_name(table, ingest_date, run_id))
    expected = {"table": table, "run_id": run_id, "ingest_date": ingest_date}
    existing = _existing_manifest(objects, manifest_uri, **expected)
    if existing is not None:
        log.info(
            "snapshot already complete, not exporting again",
            manifest=manifest_uri,
            total_rows=existing.get("total_rows"),
            reason="a manifest exists for this table, ingest date and run id",
        )
        return ExtractOutcome(existing, manifest_uri, reused=True)

    estimate = -1

    def set_estimate(value: int) -> None:
        nonlocal estimate
        estimate = value
        progress(table, 0, value)  # type: ignore[misc]

    on_rows = (lambda rows: progress(table, rows, estimate)) if progress else None
    writer = GzipPartWriter(open_part, part_bytes, on_rows=on_rows)
    log.info("export started", table=table, ingest_date=ingest_date.isoformat(), run_id=run_id, part_bytes=part_bytes)
    try:
        with connection() as conn:
            snapshot = copy_snapshot(conn, table, writer, set_estimate if progress else None)
        parts: list[Part] = writer.close()
    except BaseException:
        writer.abort()
        raise
    if writer.rows != snapshot.rows:
        raise RuntimeError(f"{table}: the stream carried {writer.rows} rows but COPY reported {snapshot.rows}")
    if progress:
        progress(table, snapshot.rows, snapshot.rows)

    _delete_stale_parts(objects, bucket, snapshot_prefix(table, ingest_date, run_id), {part.name for part in parts})
    manifest = build_manifest(
        bucket=bucket,
        table=table,
        run_id=run_id,
        ingest_date=ingest_date,
        snapshot_time=snapshot.time,
        columns=snapshot.columns,
        parts=parts,
    )
    with storage_errors(f"writing {manifest_uri}"):
        created = objects.create_json(manifest_uri, manifest)
    if not created:
        winner = _existing_manifest(objects, manifest_uri, **expected)
        if winner is None:
            raise StorageFailure(f"{manifest_uri} exists (precondition failed) but cannot be read back")
        log.info("a concurrent attempt completed this snapshot first; returning its manifest", manifest=manifest_uri)
        return ExtractOutcome(winner, manifest_uri, reused=True)
    log.info(
        "snapshot exported",
        table=table,
        manifest=manifest_uri,
        total_rows=manifest["total_rows"],
        parts=len(parts),
        snapshot_time=manifest["snapshot_time"],
    )
    return ExtractOutcome(manifest, manifest_uri, reused=False)


def _existing_manifest(objects: Objects, uri: str, **expected: Any) -> dict[str, Any] | None:
    try:
        with storage_errors(f"reading {uri}"):
            doc = objects.read_json(uri)
    except NotJsonObject as exc:
        problems = [str(exc)]
    else:
        if doc is None:
            return None
        problems = check_manifest(doc, **expected)
    if problems:
        # Never overwrite a manifest downstream may already have consumed; a person must look at it.
        raise PermanentError(f"{uri} exists but is not a usable manifest: {'; '.join(problems)}")
    return doc


def _delete_stale_parts(objects: Objects, bucket: str, prefix: str, keep: set[str]) -> None:
    """Delete parts under ``prefix`` that a failed earlier attempt left and this run did not rewrite."""
    deleted = []
    with storage_errors(f"cleaning gs://{bucket}/{prefix}"):
        for obj in objects.list_objects(bucket, prefix):
            raw = classify_raw(obj.name)
            stale = raw is not None and raw.kind == "snapshot_part" and obj.name not in keep
            if stale and objects.delete(gs_uri(bucket, obj.name)):
                deleted.append(obj.name)
    if deleted:
        log.info("deleted leftover parts of a failed attempt", prefix=prefix, parts=deleted)
