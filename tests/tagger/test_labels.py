"""Reading labelled reviews: the shapes real files take, and one clear error for each broken one."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

from obt.errors import UserError
from obt_tools.tagger.labels import read_labels

from .conftest import sample_rows, write_labels


def test_reads_plain_csv_with_quoted_multiline_texts(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_bytes(
        b'review,sentiment\n"Good, ""very"" good<br /><br />\nsecond line",positive\n  plain text  , Negative \n\n'
    )
    data = read_labels(path)
    assert data.texts == ('Good, "very" good<br /><br />\nsecond line', "plain text")
    assert data.labels == (1.0, 0.0)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (data.rows, data.distinct_texts, data.positive_rows, data.negative_rows) == (2, 2, 1, 1)


def test_reads_gzip_with_bom_crlf_and_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "l.csv.gz"
    raw = '\ufeffid,sentiment,review\r\n1,positive,"a\r\nb"\r\n2,negative,c\r\n'.encode()
    path.write_bytes(gzip.compress(raw))
    data = read_labels(path)
    assert data.texts == ("a\r\nb", "c")
    assert data.labels == (1.0, 0.0)
    assert data.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()  # of the file as given, compressed


def test_counts_copies_and_conflicts(tmp_path: Path) -> None:
    rows = [("same", "positive"), ("same ", "positive"), ("both", "positive"), ("both", "negative"), ("x", "negative")]
    data = read_labels(write_labels(tmp_path / "l.csv", rows))
    assert (data.rows, data.distinct_texts, data.conflicting_texts) == (5, 3, 1)


def test_a_long_review_is_not_cut_by_the_csv_field_limit(tmp_path: Path) -> None:
    text = "word " * 60_000  # 300 KB, over the csv module's default 128 KiB field limit
    data = read_labels(write_labels(tmp_path / "l.csv", [(text, "positive"), ("short", "negative")]))
    assert data.texts[0] == text.strip()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"text,label\na,positive\n", "has no column review, sentiment"),
        (b"review\na\n", "has no column sentiment"),
        (b"review,sentiment\n", "has a header but no labelled rows"),
        (b"review,sentiment\na,positive\nb,neutral\n", "line 3: sentiment 'neutral' is not"),
        (b"review,sentiment\na,positive\n ,negative\n", "line 3: the review is empty"),
        (b"review,sentiment\na,positive,extra\n", "line 2: 3 fields where the header has 2"),
        (b'review,sentiment\n"a\nb" x,positive\n', "not well-formed CSV"),
        (b'review,sentiment\n"never closed,positive\n', "not well-formed CSV"),
        (b"review,sentiment\n\xff\xfe,positive\n", r"is not UTF-8 text \(byte 17\)"),
        (b"\x1f\x8b\x08\x00broken", "is not a readable gzip file"),
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    with pytest.raises(UserError, match=message) as caught:
        read_labels(path)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        read_labels(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="is a directory"):
        read_labels(tmp_path)


def test_the_sample_reads_back(sample_file: Path) -> None:
    data = read_labels(sample_file)
    assert data.rows == len(sample_rows()) == 48
    assert data.positive_rows == data.negative_rows == 24
