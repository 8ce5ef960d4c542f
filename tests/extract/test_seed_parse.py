"""Seed conversion rules, without a database."""

from __future__ import annotations

import gzip
import io
import lzma
from datetime import datetime
from decimal import Decimal

import pytest

from obt.errors import UserError
from obt_tools.seed import HEADER, MalformedLine, convert_row, converted_records, open_text, parse_invoice_date

GOOD = "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom"


def _records(text: str) -> list[list[object]]:
    return list(converted_records(io.StringIO(text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12/1/2010 8:26", datetime(2010, 12, 1, 8, 26)),
        ("1/13/2011 17:05", datetime(2011, 1, 13, 17, 5)),
        ("12/31/2011 0:00", datetime(2011, 12, 31, 0, 0)),
    ],
)
def test_invoice_dates_are_month_day_year(text, expected):
    assert parse_invoice_date(text) == expected


@pytest.mark.parametrize("text", ["13/1/2010 8:26", "2010-12-01 08:26", "12/1/10 8:26", "12/1/2010", "2/30/2011 1:00"])
def test_bad_invoice_dates_are_rejected(text):
    with pytest.raises(ValueError, match="InvoiceDate"):
        parse_invoice_date(text)


def test_row_conversion_and_nulls():
    row = convert_row(["C536379", "D", "", "-1", "12/1/2010 9:41", "27.5", "", "United Kingdom"])
    assert row == ["C536379", "D", None, -1, "2010-12-01 09:41:00", Decimal("27.5"), None, "United Kingdom"]
    assert convert_row(GOOD.split(","))[6] == 17850


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (["1", "2"], "expected 8 fields"),
        (["536365", "X", "d", "six", "12/1/2010 8:26", "2.55", "1", "UK"], "Quantity"),
        (["536365", "X", "d", "6", "12/1/2010 8:26", "2.5555", "1", "UK"], "numeric"),
        (["536365", "X", "d", "6", "12/1/2010 8:26", "abc", "1", "UK"], "UnitPrice"),
        (["536365", "X", "d", "6", "12/1/2010 8:26", "2.55", "17850.5", "UK"], "CustomerID"),
        (["12345678901", "X", "d", "6", "12/1/2010 8:26", "2.55", "1", "UK"], "InvoiceNo is longer"),
    ],
)
def test_bad_rows_say_what_is_wrong(fields, message):
    with pytest.raises(ValueError, match=message):
        convert_row(fields)


def test_malformed_line_is_reported_with_its_physical_line_number():
    # Line 3 holds a quoted newline, so the bad record starts on physical line 5, not record 4.
    text = "\n".join([",".join(HEADER), GOOD, '536366,22633,"HAND\nWARMER",6,12/1/2010 8:28,1.85,17850,UK', "x,y"])
    with pytest.raises(MalformedLine, match=r"^line 5: expected 8 fields"):
        _records(text + "\n")


def test_broken_quoting_is_malformed():
    text = ",".join(HEADER) + "\n" + GOOD + '\n536366,22633,"HAND WARMER,6,12/1/2010 8:28,1.85,17850,UK\n'
    with pytest.raises(MalformedLine, match=r"^line 3: broken CSV quoting"):
        _records(text)


def test_wrong_header_is_malformed():
    with pytest.raises(MalformedLine, match="^line 1: expected the header"):
        _records("a,b,c\n")


def test_compressed_inputs_and_bom(tmp_path):
    body = "\ufeff" + ",".join(HEADER) + "\r\n" + GOOD + "\r\n"
    (tmp_path / "p.csv").write_text(body, encoding="utf-8")
    (tmp_path / "p.csv.gz").write_bytes(gzip.compress(body.encode()))
    (tmp_path / "p.csv.xz").write_bytes(lzma.compress(body.encode()))
    for name in ("p.csv", "p.csv.gz", "p.csv.xz"):
        with open_text(tmp_path / name) as text:
            assert [row[0] for row in converted_records(text)] == ["536365"], name
    with pytest.raises(UserError, match="expected a .csv"):
        open_text(tmp_path / "p.txt")
