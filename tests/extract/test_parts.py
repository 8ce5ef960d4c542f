"""The gzip part writer: record counting, roll-over, checksums, failures (in-memory sinks)."""

from __future__ import annotations

import gzip
import os

import google_crc32c
import pytest

from obt.extract.parts import GzipPartWriter, crc32c_base64
from tests.extract.memsink import MemoryStore

HEADER = b"a,b,c\n"


def _rows(n: int) -> list[bytes]:
    # Incompressible payload so the compressed size grows and parts roll over; some fields hold newlines.
    return [f'{i},"line\nbreak {i}",{os.urandom(40).hex()}\n'.encode() for i in range(n)]


def _write_all(writer: GzipPartWriter, rows: list[bytes], batched: bool) -> None:
    if batched:
        records = [HEADER, *rows]
        for start in range(0, len(records), 37):
            batch = [memoryview(r) for r in records[start : start + 37]]
            writer.write_rows(batch, sum(len(r) for r in batch))
    else:
        writer.write(HEADER)
        for row in rows:
            writer.write(row)


@pytest.mark.parametrize("batched", [False, True])
def test_rolls_over_at_record_boundaries_with_a_header_per_part(batched):
    store = MemoryStore()
    rows = _rows(5000)
    writer = GzipPartWriter(store.open_part, part_bytes=50_000, chunk_bytes=16_384)
    _write_all(writer, rows, batched)
    parts = writer.close()

    assert len(parts) > 3
    assert [p.index for p in parts] == list(range(len(parts)))
    assert writer.rows == sum(p.rows for p in parts) == 5000
    seen = b""
    for part in parts:
        blob = store.committed[part.name]
        assert part.bytes == len(blob)
        assert part.crc32c == crc32c_base64(int.from_bytes(google_crc32c.Checksum(blob).digest(), "big"))
        assert part.generation == 1000 + part.index
        text = gzip.decompress(blob)
        assert text.startswith(HEADER)
        body = text[len(HEADER) :]
        assert body.count(b"\nbreak ") == part.rows  # one embedded newline per record
        seen += body
    assert seen == b"".join(rows)  # order kept, nothing lost or repeated
    # Roll-over happens at the first chunk boundary past the limit (zlib buffers some output too).
    assert all(p.bytes < 50_000 + 16_384 + 65_536 for p in parts)


def test_empty_table_yields_one_header_only_part():
    store = MemoryStore()
    writer = GzipPartWriter(store.open_part, part_bytes=1000)
    writer.write(HEADER)
    (part,) = writer.close()
    assert part.rows == 0
    assert gzip.decompress(store.committed[part.name]) == HEADER


def test_a_storage_failure_stops_the_export_and_cancels_the_open_part():
    store = MemoryStore(fail_at_part=2)
    writer = GzipPartWriter(store.open_part, part_bytes=50_000, chunk_bytes=8192)
    with pytest.raises(OSError, match="injected storage failure in part-00002"):
        _write_all(writer, _rows(20_000), batched=False)
        writer.close()
    writer.abort()
    assert sorted(store.committed) == ["part-00000.csv.gz", "part-00001.csv.gz"]
    assert store.aborted == ["part-00002.csv.gz"]


def test_crc32c_is_base64_big_endian_like_gcs():
    # GCS documents crc32c of "hello world" as yZRlqg==.
    value = int.from_bytes(google_crc32c.Checksum(b"hello world").digest(), "big")
    assert crc32c_base64(value) == "yZRlqg=="


def test_part_size_must_be_positive():
    with pytest.raises(ValueError):
        GzipPartWriter(MemoryStore().open_part, part_bytes=0)
