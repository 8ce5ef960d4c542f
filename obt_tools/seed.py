"""Seed PostgreSQL's ``user_purchase`` from the UCI "Online Retail" CSV (local runs and demos).

The whole file is validated and converted first (dates like ``12/1/2010 8:26`` become ISO timestamps, an
empty ``CustomerID`` or ``Description`` becomes NULL) into a temporary file; only then is the table
replaced, in ONE transaction (``DROP``/``CREATE``/``COPY FROM STDIN``). A malformed line therefore stops the
load with its line number before the database is touched, and a database-side failure rolls back: the
table is never half-loaded, and seeding twice gives the same table (no duplicates).

Each seed reports a digest of the rows it stored (SHA-256 of the converted CSV it copied), so a caller can tell
a re-seed with the same content from one with other content; the demo names its purchase snapshot after it.
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import io
import lzma
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO

from obt.errors import UserError
from obt.extract.postgres import quote_ident
from obt.log import get_logger

log = get_logger(__name__)

HEADER = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country")

# The DDL of shared/data/README.md; the column order matches the CSV.
COLUMNS = (
    ("invoice_number", "varchar(10)"),
    ("stock_code", "varchar(20)"),
    ("detail", "varchar(1000)"),
    ("quantity", "int"),
    ("invoice_date", "timestamp"),
    ("unit_price", "numeric(10,3)"),
    ("customer_id", "int NULL"),
    ("country", "varchar(40)"),
)
_MAX_LEN = {0: 10, 1: 20, 2: 1000, 7: 40}
_PRICE_LIMIT = Decimal(10) ** 7  # numeric(10,3): seven digits before the point
_INT_LIMIT = 2**31


class MalformedLine(UserError):
    """A CSV line that cannot be loaded; the message starts with its line number."""


@dataclass(frozen=True)
class SeedResult:
    table: str
    rows: int
    # SHA-256 (hex) of the converted rows as copied: the same rows in the same order give the same digest,
    # whatever the source file's compression, line ends or date spelling.
    digest: str


def parse_invoice_date(text: str) -> datetime:
    """``12/1/2010 8:26`` (month/day/year, no zero padding, no seconds) -> ``datetime``."""
    try:
        day_part, time_part = text.strip().split(" ")
        month, day, year = day_part.split("/")
        hour, minute = time_part.split(":")
        if len(year) != 4 or len(minute) != 2:
            raise ValueError("bad field width")
        return datetime(int(year), int(month), int(day), int(hour), int(minute))
    except ValueError as exc:
        raise ValueError(f"InvoiceDate {text!r} is not a M/D/YYYY H:MM date") from exc


def _int(name: str, text: str) -> int:
    try:
        value = int(text.strip())
    except ValueError as exc:
        raise ValueError(f"{name} {text!r} is not an integer") from exc
    if not -_INT_LIMIT <= value < _INT_LIMIT:
        raise ValueError(f"{name} {text!r} is out of range for int")
    return value


@functools.lru_cache(maxsize=65536)
def _iso_date(text: str) -> str:
    # Invoices share timestamps and prices repeat, so caching halves the conversion time.
    return parse_invoice_date(text).isoformat(sep=" ")


@functools.lru_cache(maxsize=65536)
def _price(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except InvalidOperation as exc:
        raise ValueError(f"UnitPrice {text!r} is not a number") from exc
    if not value.is_finite() or abs(value) >= _PRICE_LIMIT or value.as_tuple().exponent < -3:
        raise ValueError(f"UnitPrice {text!r} does not fit numeric(10,3)")
    return value


def convert_row(fields: list[str]) -> list[object]:
    """One CSV record -> the eight column values (``None`` is NULL); ``ValueError`` says what is wrong."""
    if len(fields) != len(HEADER):
        raise ValueError(f"expected {len(HEADER)} fields, found {len(fields)}")
    for index, limit in _MAX_LEN.items():
        if len(fields[index]) > limit:
            raise ValueError(f"{HEADER[index]} is longer than {limit} characters")
    invoice, stock, detail, quantity, when, price, customer, country = fields
    return [
        invoice,
        stock,
        detail or None,
        _int("Quantity", quantity),
        _iso_date(when),
        _price(price),
        _int("CustomerID", customer) if customer.strip() else None,
        country,
    ]


def open_text(path: Path) -> IO[str]:
    """Open ``.csv``, ``.csv.gz`` or ``.csv.xz`` as UTF-8 text (a leading byte-order mark is dropped)."""
    name = path.name.lower()
    if name.endswith(".csv.gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    if name.endswith(".csv.xz"):
        return lzma.open(path, "rt", encoding="utf-8-sig", newline="")
    if name.endswith(".csv"):
        return open(path, encoding="utf-8-sig", newline="")
    raise UserError(f"{path}: expected a .csv, .csv.gz or .csv.xz file")


def converted_records(text: IO[str]) -> Iterator[list[object]]:
    """Yield converted records; raise ``MalformedLine`` naming the line where a bad record starts."""
    reader = csv.reader(text, strict=True)
    line = 1
    try:
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != HEADER:
            raise MalformedLine(f"line 1: expected the header {','.join(HEADER)}, found {header!r}")
        while True:
            line = reader.line_num + 1
            fields = next(reader, None)
            if fields is None:
                return
            try:
                yield convert_row(fields)
            except ValueError as exc:
                raise MalformedLine(f"line {line}: {exc}") from exc
    except csv.Error as exc:
        raise MalformedLine(f"line {line}: broken CSV quoting ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise MalformedLine(f"near line {line}: not valid UTF-8 ({exc.reason})") from exc


def spool_converted(text: IO[str], spool: IO[bytes]) -> int:
    """Write every converted record as PostgreSQL CSV into ``spool``; return the record count."""
    out = io.TextIOWrapper(spool, encoding="utf-8", newline="", write_through=False)
    writer = csv.writer(out, lineterminator="\n")
    rows = 0
    for record in converted_records(text):
        writer.writerow(record)
        rows += 1
    out.flush()
    out.detach()
    return rows


def create_table_sql(table: str) -> str:
    columns = ", ".join(f"{quote_ident(name)} {kind}" for name, kind in COLUMNS)
    return f"CREATE TABLE {quote_ident(table)} ({columns})"


def _rollback(cursor) -> None:
    try:
        cursor.execute("ROLLBACK")
    except Exception as exc:  # a broken link rolls back on the server by itself
        log.warning("rollback failed", error=str(exc))


def seed(conn, csv_path: Path, table: str = "user_purchase") -> SeedResult:
    """Replace ``table`` with the file's rows, atomically; ``conn`` is an autocommit pg8000 DB-API connection."""
    if not csv_path.is_file():
        raise UserError(f"{csv_path}: no such file")
    with tempfile.TemporaryFile() as spool:
        with open_text(csv_path) as text:
            rows = spool_converted(text, spool)
        spool.seek(0)
        digest = hashlib.file_digest(spool, "sha256").hexdigest()
        log.info("seed file validated", path=str(csv_path), rows=rows, digest=digest)
        spool.seek(0)
        columns = ", ".join(quote_ident(name) for name, _ in COLUMNS)
        cursor = conn.cursor()
        cursor.execute("BEGIN")
        try:
            cursor.execute(f"DROP TABLE IF EXISTS {quote_ident(table)}")
            cursor.execute(create_table_sql(table))
            cursor.execute(f"COPY {quote_ident(table)} ({columns}) FROM STDIN WITH (FORMAT csv)", stream=spool)
            if cursor.rowcount != rows:  # COPY reports what it stored; a mismatch must not be committed
                raise RuntimeError(f"COPY stored {cursor.rowcount} rows but {rows} were validated")
            cursor.execute("COMMIT")
        except BaseException:
            _rollback(cursor)
            raise
    log.info("table seeded", table=table, rows=rows, path=str(csv_path), reason="replaced in one transaction")
    return SeedResult(table, rows, digest)
