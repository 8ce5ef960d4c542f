"""Turn a stream of CSV records into gzip parts, with compression and upload off the reading thread.

``GzipPartWriter`` is the ``stream=`` target of pg8000's ``COPY … TO STDOUT``. PostgreSQL sends exactly
one CopyData message per row (the first is the header), and the writer receives whole messages: one per
``write`` call (pg8000's own loop) or a batch per ``write_rows`` call (``obt.extract.copyout``). So
counting messages counts CSV *records*, correct even when a quoted field holds newlines, without parsing
CSV; the caller still checks the total against the server's ``COPY n`` command tag.

Three threads share the work. pg8000 is pure Python, so the reading thread (the caller's) is the
bottleneck and does as little as possible: append the row, and every ``chunk_bytes`` hand a joined chunk
to the compressor. The compressor thread runs zlib (which releases the GIL) and rolls over to a new part
once a part's compressed size reaches ``part_bytes``, always at a record boundary, and repeats the header
at the top of every part so each part is a self-describing CSV file. The upload thread computes the
crc32c and writes to the part's sink (a resumable GCS upload), so network waits never stall reading.
Bounded queues between the threads keep memory flat however big the table is.

A failure in any thread stops the others and is re-raised from the reading side (``write``/``close``);
``abort`` cancels the part being uploaded, so a failed export never finalises a truncated part.
"""

from __future__ import annotations

import base64
import queue
import threading
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import google_crc32c

from obt.log import get_logger

log = get_logger(__name__)

# gzip -1: the raw zone favours speed; it keeps compression from becoming the bottleneck on one vCPU.
COMPRESSION_LEVEL = 1
CHUNK_BYTES = 1 << 20
_QUEUE_DEPTH = 4
_POLL_SECONDS = 0.2


class PartSink(Protocol):
    """Where one part's compressed bytes go."""

    name: str

    def write(self, data: bytes) -> None: ...

    def commit(self, size: int, crc32c: str) -> int:
        """Finalise the part (checking size and checksum when the store reports them); return its generation."""
        ...

    def abort(self) -> None:
        """Give up on the part: nothing may become visible under its name."""
        ...


@dataclass(frozen=True)
class Part:
    index: int
    name: str
    rows: int
    bytes: int
    crc32c: str
    generation: int


def crc32c_base64(value: int) -> str:
    """A crc32c as GCS reports it: base64 of the big-endian 32-bit value."""
    return base64.b64encode(value.to_bytes(4, "big")).decode("ascii")


class ExportAborted(Exception):
    """The writer was aborted; raised to any thread still working."""


_DONE = object()


class GzipPartWriter:
    def __init__(
        self,
        open_part: Callable[[int], PartSink],
        part_bytes: int,
        *,
        chunk_bytes: int = CHUNK_BYTES,
        level: int = COMPRESSION_LEVEL,
        on_rows: Callable[[int], None] | None = None,
    ) -> None:
        if part_bytes <= 0:
            raise ValueError(f"part size must be positive, got {part_bytes}")
        self._open_part = open_part
        self._part_bytes = part_bytes
        self._chunk_bytes = chunk_bytes
        self._level = level
        self._on_rows = on_rows
        self._buf: list[bytes] = []
        self._pending = 0
        self._header: bytes | None = None
        self.rows = 0
        self._raw: queue.Queue = queue.Queue(_QUEUE_DEPTH)
        self._compressed: queue.Queue = queue.Queue(_QUEUE_DEPTH * 4)
        self._parts: list[Part] = []
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._compress_loop, name="extract-gzip", daemon=True),
            threading.Thread(target=self._upload_loop, name="extract-upload", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    # --- reading side (the caller's thread) -------------------------------------------------------------

    def write(self, data: bytes) -> None:
        self._buf.append(data)
        self._pending += len(data)
        if self._pending >= self._chunk_bytes:
            self._ship()

    def write_rows(self, rows: list, nbytes: int) -> None:
        """Many records at once (``obt.extract.copyout``'s batched path); ``nbytes`` is their total size."""
        self._buf.extend(rows)
        self._pending += nbytes
        if self._pending >= self._chunk_bytes:
            self._ship()

    def _ship(self) -> None:
        buf, self._buf, self._pending = self._buf, [], 0
        if self._header is None:
            if not buf:
                return
            self._header = bytes(buf[0])
            buf = buf[1:]
        if buf:
            self.rows += len(buf)
            self._put(self._raw, (b"".join(buf), len(buf)))
            if self._on_rows is not None:
                self._on_rows(self.rows)

    def _put(self, target: queue.Queue, item: object) -> None:
        while True:
            self._raise_if_failed()
            try:
                target.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def close(self) -> list[Part]:
        """Flush everything, wait for the last upload, and return the parts in order."""
        try:
            self._ship()
            if self._header is None:
                raise ValueError("the COPY stream ended without a header line")
            self._put(self._raw, _DONE)
            for thread in self._threads:
                while thread.is_alive():
                    thread.join(_POLL_SECONDS)
                    self._raise_if_failed()
            self._raise_if_failed()
        except BaseException:
            self.abort()
            raise
        return sorted(self._parts, key=lambda part: part.index)

    def abort(self) -> None:
        """Stop all threads; the part being uploaded is cancelled, never finalised."""
        self._fail(ExportAborted("export aborted"))
        for thread in self._threads:
            thread.join()

    def _fail(self, exc: BaseException) -> None:
        if self._error is None:
            self._error = exc
        self._stop.set()

    def _get(self, source: queue.Queue) -> object:
        while True:
            if self._stop.is_set():
                raise ExportAborted("export aborted")
            try:
                return source.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue

    # --- compressor thread --------------------------------------------------------------------------------

    def _compress_loop(self) -> None:
        try:
            index = 0
            compressor = None
            part_rows = part_size = 0
            while True:
                item = self._get(self._raw)
                if item is _DONE:
                    break
                data, rows = item  # type: ignore[misc]
                if compressor is None:
                    compressor = zlib.compressobj(self._level, zlib.DEFLATED, 31)
                    self._put(self._compressed, ("open", index))
                    part_rows, part_size = 0, 0
                    data = self._header + data  # type: ignore[operator]
                out = compressor.compress(data)
                part_rows += rows
                if out:
                    part_size += len(out)
                    self._put(self._compressed, ("data", out))
                if part_size >= self._part_bytes:
                    self._put(self._compressed, ("close", compressor.flush(), part_rows))
                    compressor = None
                    index += 1
            if compressor is None and index == 0:
                # An empty table still yields one part holding the header: the snapshot is self-describing.
                compressor = zlib.compressobj(self._level, zlib.DEFLATED, 31)
                self._put(self._compressed, ("open", index))
                self._put(self._compressed, ("data", compressor.compress(self._header)))  # type: ignore[arg-type]
                part_rows = 0
            if compressor is not None:
                self._put(self._compressed, ("close", compressor.flush(), part_rows))
            self._put(self._compressed, _DONE)
        except BaseException as exc:
            self._fail(exc)

    # --- upload thread --------------------------------------------------------------------------------

    def _upload_loop(self) -> None:
        sink: PartSink | None = None
        try:
            index = size = crc = 0
            while True:
                item = self._get(self._compressed)
                if item is _DONE:
                    return
                kind = item[0]  # type: ignore[index]
                if kind == "open":
                    index = item[1]  # type: ignore[index]
                    sink = self._open_part(index)
                    size = crc = 0
                    continue
                data = item[1]  # type: ignore[index]
                if data:
                    sink.write(data)  # type: ignore[union-attr]
                    size += len(data)
                    crc = google_crc32c.extend(crc, data)
                if kind == "close":
                    rows = item[2]  # type: ignore[index]
                    checksum = crc32c_base64(crc)
                    generation = sink.commit(size, checksum)  # type: ignore[union-attr]
                    part = Part(index, sink.name, rows, size, checksum, generation)  # type: ignore[union-attr]
                    self._parts.append(part)
                    sink = None
                    log.info("part written", part=part.name, rows=rows, bytes=size, crc32c=checksum)
        except BaseException as exc:
            self._fail(exc)
            if sink is not None:
                try:
                    sink.abort()
                except Exception as abort_exc:  # the failure that matters is already recorded
                    log.warning("cancelling an unfinished part failed", part=sink.name, error=str(abort_exc))
