"""Reading back what an export wrote, and the table it came from, for comparisons."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io

from obt.extract.export import copy_sql


class PlainStream:
    """Collects pg8000's own per-message COPY output (no ``write_rows``: the library's ordinary path)."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.messages.append(bytes(data))


def reference_copy(conn, table: str) -> tuple[bytes, list[bytes]]:
    """(header, records) of the table via pg8000's ordinary COPY loop, in a separate query."""
    cursor = conn.cursor()
    cursor.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
        "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (table,),
    )
    columns = [(name, kind) for name, kind in cursor.fetchall()]
    stream = PlainStream()
    cursor.execute(copy_sql(table, columns), stream=stream)
    assert cursor.rowcount == len(stream.messages) - 1
    return stream.messages[0], stream.messages[1:]


def csv_records(text: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.decode("utf-8"), newline="")))


def digest(records: list[bytes]) -> str:
    """Order-independent checksum: SHA-256 over the sorted records."""
    h = hashlib.sha256()
    for record in sorted(records):
        h.update(record)
    return h.hexdigest()


def split_records(header: bytes, text: bytes) -> list[bytes]:
    """The records of one part, each with its line end, using CSV parsing (quoted newlines stay inside)."""
    assert text.startswith(header), "every part starts with the header"
    body = text[len(header) :]
    assert body == b"" or body.endswith(b"\n"), "a part ends at a record boundary"
    records: list[bytes] = []
    pending = b""
    # A line with an odd number of quotes opens (or closes) a quoted field that spans the line end.
    for line in body.splitlines(keepends=True):
        pending += line
        if pending.count(b'"') % 2 == 0:
            records.append(pending)
            pending = b""
    assert pending == b"", "a part ends at a record boundary"
    return records


def download_parts(bucket, manifest: dict) -> list[bytes]:
    return [gzip.decompress(bucket.blob(part["name"]).download_as_bytes()) for part in manifest["parts"]]
