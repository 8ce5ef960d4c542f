"""A faster ``COPY … TO STDOUT`` receive loop for pg8000.

pg8000 handles each protocol message with two buffered reads, a dict dispatch and a method call, and
PostgreSQL sends one CopyData message per row: at ~3 µs per row that loop, not PostgreSQL or zlib, bounds
the export. While a ``COPY OUT`` is in progress this module takes over the socket: it peeks at whatever
the connection has buffered, slices every complete CopyData message out of it in one tight loop, hands
the rows to the stream in batches (``write_rows``), and consumes exactly those bytes. Anything else
(CopyDone, an ErrorResponse, a notice, a message straddling the buffer's end) is read and dispatched the
way pg8000 itself would, and on CopyDone or an error control returns to pg8000's own loop, which then
reads CommandComplete (the ``COPY n`` row count) and ReadyForQuery as usual.

It relies on pg8000 internals (``message_types``, ``_sock``), pinned in constraints.txt; when they are not
there, ``fast_copy_out`` yields ``False`` and pg8000's per-message path (``stream.write``) is used.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pg8000.exceptions import InterfaceError

COPY_OUT_RESPONSE = b"H"
COPY_DATA = 100  # b"d"[0]
_RETURN_TO_PG8000 = (b"c", b"E")  # CopyDone, ErrorResponse
_LENGTH = struct.Struct("!i")
_PEEK = 1 << 16


def _read_exactly(sock: Any, size: int) -> bytes:
    data = sock.read(size)
    if len(data) == size:
        return data
    buf = bytearray(data)
    while len(buf) < size:
        block = sock.read(size - len(buf))
        if not block:
            raise InterfaceError("network error: connection closed during COPY")
        buf.extend(block)
    return bytes(buf)


def _pump(conn: Any, stream: Any, context: Any) -> None:
    sock = conn._sock
    dispatch = conn.message_types
    unpack = _LENGTH.unpack_from
    write_rows = stream.write_rows
    while True:
        try:
            window = sock.peek(_PEEK)
        except OSError as exc:
            raise InterfaceError("network error during COPY") from exc
        if not window:
            raise InterfaceError("network error: connection closed during COPY")
        view = memoryview(window)
        size = len(window)
        pos = 0
        rows = []
        while pos + 5 <= size and window[pos] == COPY_DATA:
            end = pos + 1 + unpack(window, pos + 1)[0]
            if end > size:
                break
            rows.append(view[pos + 5 : end])
            pos = end
        if pos:
            write_rows(rows, pos - 5 * len(rows))
            sock.read(pos)  # consume exactly the messages handed over (they are buffered: no I/O)
            continue
        # The next message is not a complete CopyData inside the buffer: read it the ordinary way.
        header = _read_exactly(sock, 5)
        body = _read_exactly(sock, _LENGTH.unpack_from(header, 1)[0] - 4)
        code = header[:1]
        if code == b"d":
            write_rows([body], len(body))
            continue
        dispatch[code](body, context)
        if code in _RETURN_TO_PG8000:
            return


def _usable(conn: Any) -> bool:
    types = getattr(conn, "message_types", None)
    sock = getattr(conn, "_sock", None)
    return isinstance(types, dict) and COPY_OUT_RESPONSE in types and hasattr(sock, "peek")


@contextmanager
def fast_copy_out(conn: Any) -> Iterator[bool]:
    """While active, a ``COPY OUT`` into a stream with ``write_rows`` uses the batched loop."""
    if not _usable(conn):
        yield False
        return
    types = conn.message_types
    original = types[COPY_OUT_RESPONSE]

    def on_copy_out(data: bytes, context: Any) -> None:
        original(data, context)  # pg8000's own checks (stream given, text vs binary)
        if hasattr(context.stream, "write_rows"):
            _pump(conn, context.stream, context)

    types[COPY_OUT_RESPONSE] = on_copy_out
    try:
        yield True
    finally:
        types[COPY_OUT_RESPONSE] = original
