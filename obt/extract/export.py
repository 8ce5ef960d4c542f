"""Export one table as one consistent snapshot: ``COPY (SELECT cols FROM table) TO STDOUT`` → gzip parts → manifest.

A snapshot is immutable once its manifest announces it. Order of work, and why retries and concurrent calls
for the same (table, ingest date, run id) are safe:

1. If ``_MANIFEST.json`` already exists, the snapshot is complete: check that the bucket still holds every part
   it names (generation, size, crc32c: ``obt.extract.integrity``) and return it without touching the database
   (a retried Cloud Scheduler request lands here). A manifest whose parts do not match is *corrupt*: each
   difference is logged as an ERROR naming the part, and the call fails with a ``PermanentError`` (HTTP 500,
   so every retry says so again). It is never returned as ``reused``, and nothing is written in its place
   automatically: a new snapshot needs a new run id, and a person should first learn what overwrote the
   part. Exporting again under a new ``run_id`` gives a newer snapshot, which the trigger then builds from.
2. Otherwise this call is a new *attempt* with an id of its own. In a ``REPEATABLE READ, READ ONLY``
   transaction it reads the snapshot time and the column types, then streams ``COPY`` through
   ``GzipPartWriter`` into resumable uploads named ``part-<attempt>-00000.csv.gz``, …, each created with
   ``ifGenerationMatch=0``: no attempt ever writes an object another attempt wrote.
3. The row count the writer saw must equal the server's ``COPY n`` tag: the manifest's numbers are the
   server's, not an estimate.
4. The manifest is written last, with ``ifGenerationMatch=0``: the first complete manifest wins. Any failure
   before this step leaves no manifest, so nothing downstream fires on a partial export.
5. A losing attempt adopts the winner's manifest (checked as in 1) and deletes its own parts, never another
   attempt's. The winner, and every later call that reuses the snapshot, deletes the parts under the run's
   folder that the committed manifest does not name: what crashed attempts left. Every deletion goes through
   ``delete_unnamed_parts``, which never deletes a part the committed manifest names; since that manifest is
   write-once, no manifest can ever name a part deleted this way. (A still-running attempt whose parts are
   swept can only lose; it then finds its parts gone, which is fine.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from obt.errors import PermanentError
from obt.extract.copyout import fast_copy_out
from obt.extract.integrity import manifest_parts, part_mismatches
from obt.extract.manifest import build_manifest, check_manifest
from obt.extract.parts import GzipPartWriter, Part, PartSink
from obt.extract.postgres import quote_ident
from obt.extract.storage import StorageFailure, storage_errors
from obt.log import get_logger
from obt.objects import ListedObject, NotJsonObject, Objects
from obt_contract.layout import (
    classify_raw,
    gs_uri,
    new_attempt_id,
    part_name,
    snapshot_manifest_name,
    snapshot_prefix,
)

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


@dataclass(frozen=True)
class SnapshotKey:
    """Where the snapshot of (table, ingest date, run id) lives: the idempotency key of an extract."""

    bucket: str
    table: str
    ingest_date: date
    run_id: str

    @property
    def folder(self) -> str:
        return snapshot_prefix(self.table, self.ingest_date, self.run_id)

    @property
    def manifest_uri(self) -> str:
        return gs_uri(self.bucket, snapshot_manifest_name(self.table, self.ingest_date, self.run_id))


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
    open_part: Callable[[str], PartSink],
    progress: Progress | None = None,
) -> ExtractOutcome:
    """Export ``table`` for (ingest_date, run_id) unless that snapshot is already complete.

    ``connection()`` yields a database connection; it is only opened when an export is needed. The manifest
    and leftover parts go through ``objects``; each part is streamed into ``open_part(object name)``.
    """
    key = SnapshotKey(bucket, table, ingest_date, run_id)
    existing = _committed_snapshot(objects, key)
    if existing is not None:
        committed, listing = existing
        log.info(
            "snapshot already complete, not exporting again",
            manifest=key.manifest_uri,
            total_rows=committed.get("total_rows"),
            reason="a manifest exists for this table, ingest date and run id, and its parts match it",
        )
        delete_unnamed_parts(objects, key, committed, _parts(listing), "left by attempts that did not commit")
        return ExtractOutcome(committed, key.manifest_uri, reused=True)

    attempt = new_attempt_id()
    estimate = -1

    def set_estimate(value: int) -> None:
        nonlocal estimate
        estimate = value
        progress(table, 0, value)  # type: ignore[misc]

    on_rows = (lambda rows: progress(table, rows, estimate)) if progress else None
    writer = GzipPartWriter(
        lambda index: open_part(part_name(table, ingest_date, run_id, attempt, index)), part_bytes, on_rows=on_rows
    )
    log.info(
        "export started",
        table=table,
        ingest_date=ingest_date.isoformat(),
        run_id=run_id,
        attempt=attempt,
        part_bytes=part_bytes,
    )
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

    manifest = build_manifest(
        bucket=bucket,
        table=table,
        run_id=run_id,
        ingest_date=ingest_date,
        snapshot_time=snapshot.time,
        columns=snapshot.columns,
        parts=parts,
    )
    with storage_errors(f"writing {key.manifest_uri}"):
        created = objects.create_json(key.manifest_uri, manifest)
    if not created:
        existing = _committed_snapshot(objects, key)
        if existing is None:
            raise StorageFailure(f"{key.manifest_uri} exists (precondition failed) but cannot be read back")
        winner = existing[0]
        log.info(
            "a concurrent attempt committed this snapshot first; adopting its manifest",
            manifest=key.manifest_uri,
            attempt=attempt,
            total_rows=winner.get("total_rows"),
        )
        delete_unnamed_parts(objects, key, winner, [part.name for part in parts], "this attempt lost the race")
        return ExtractOutcome(winner, key.manifest_uri, reused=True)
    log.info(
        "snapshot exported",
        table=table,
        manifest=key.manifest_uri,
        attempt=attempt,
        total_rows=manifest["total_rows"],
        parts=len(parts),
        snapshot_time=manifest["snapshot_time"],
    )
    leftovers = _parts(_listing(objects, key))
    delete_unnamed_parts(objects, key, manifest, leftovers, "left by attempts that did not commit")
    return ExtractOutcome(manifest, key.manifest_uri, reused=False)


def _committed_snapshot(objects: Objects, key: SnapshotKey) -> tuple[dict[str, Any], list[ListedObject]] | None:
    """The committed manifest, once checked against the bucket, and the run folder's listing it was checked
    against; ``None`` when there is no manifest yet.

    ``PermanentError`` when it is unusable or corrupt: a person must look at it (see the module docstring).
    """
    uri = key.manifest_uri
    try:
        with storage_errors(f"reading {uri}"):
            doc = objects.read_json(uri)
    except NotJsonObject as exc:
        problems = [str(exc)]
    else:
        if doc is None:
            return None
        problems = check_manifest(doc, table=key.table, run_id=key.run_id, ingest_date=key.ingest_date)
    if problems:
        raise PermanentError(f"{uri} exists but is not a usable manifest: {'; '.join(problems)}")
    listing = _listing(objects, key)
    mismatches = part_mismatches(manifest_parts(doc, key.folder), {obj.name: obj for obj in listing})
    for mismatch in mismatches:
        log.error(
            "snapshot part does not match its manifest: the snapshot is corrupt",
            manifest=uri,
            part=mismatch.name,
            problem=mismatch.problem,
        )
    if mismatches:
        raise PermanentError(
            f"{uri} is corrupt, not reusing it: {'; '.join(map(str, mismatches))}. "
            "Export again under a new run_id once the cause is known; the newer snapshot supersedes this one."
        )
    return doc, listing


def _listing(objects: Objects, key: SnapshotKey) -> list[ListedObject]:
    with storage_errors(f"listing gs://{key.bucket}/{key.folder}"):
        return objects.list_objects(key.bucket, key.folder)


def _parts(listing: Iterable[ListedObject]) -> list[str]:
    """The snapshot parts of a run folder's listing, whichever attempt wrote them."""
    return [obj.name for obj in listing if (raw := classify_raw(obj.name)) is not None and raw.kind == "snapshot_part"]


def delete_unnamed_parts(
    objects: Objects, key: SnapshotKey, committed: Mapping[str, Any], candidates: Iterable[str], why: str
) -> list[str]:
    """Delete the ``candidates`` the ``committed`` manifest does not name; return the names deleted.

    The extract's only way to delete parts, so that none a committed manifest names is ever deleted.
    """
    named = {part.name for part in manifest_parts(committed, key.folder)}
    deleted = []
    with storage_errors(f"cleaning gs://{key.bucket}/{key.folder}"):
        for name in candidates:
            if name not in named and objects.delete(gs_uri(key.bucket, name)):
                deleted.append(name)
    if deleted:
        log.info("deleted parts no manifest names", folder=key.folder, parts=deleted, reason=why)
    return deleted
