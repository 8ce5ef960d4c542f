"""Labelled reviews: a CSV file (plain or gzip) with columns ``review`` and ``sentiment`` (positive/negative).

Read on the driver with the csv module, not Spark's reader: the file is small (thousands of rows), a broken file
must become one error line that names the line, and Spark's permissive parser would turn a broken quote into
silently shifted rows. Quoted fields may hold commas, quotes and newlines; a byte-order mark is accepted.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from obt.errors import UserError

TEXT_FIELD = "review"
LABEL_FIELD = "sentiment"
LABELS = {"positive": 1.0, "negative": 0.0}
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class LabelledReviews:
    """One entry per data row, in file order. Texts are trimmed (as the job trims ``review_str``)."""

    source: str
    sha256: str
    texts: tuple[str, ...]
    labels: tuple[float, ...]

    @property
    def rows(self) -> int:
        return len(self.texts)

    @property
    def distinct_texts(self) -> int:
        return len(set(self.texts))

    @property
    def positive_rows(self) -> int:
        return sum(1 for label in self.labels if label == 1.0)

    @property
    def negative_rows(self) -> int:
        return self.rows - self.positive_rows

    @property
    def conflicting_texts(self) -> int:
        """Distinct texts labelled both positive and negative (kept: no model can get both rows right)."""
        seen: dict[str, set[float]] = {}
        for text, label in zip(self.texts, self.labels, strict=True):
            seen.setdefault(text, set()).add(label)
        return sum(1 for labels in seen.values() if len(labels) > 1)

    def summary(self) -> dict[str, int | str]:
        return {
            "path": self.source,
            "sha256": self.sha256,
            "rows": self.rows,
            "distinct_texts": self.distinct_texts,
            "positive_rows": self.positive_rows,
            "negative_rows": self.negative_rows,
            "conflicting_texts": self.conflicting_texts,
        }


def read_labels(path: str | Path) -> LabelledReviews:
    """The labelled rows of ``path``; any problem is a ``UserError`` naming the file (and line)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"labels file {path} does not exist") from None
    except IsADirectoryError:
        raise UserError(f"labels file {path} is a directory") from None
    except OSError as exc:
        raise UserError(f"cannot read labels file {path}: {exc.strerror or exc}") from None
    texts: list[str] = []
    labels: list[float] = []
    for line, text, sentiment in _records(path, _decode(path, raw)):
        label = LABELS.get(sentiment.strip().lower())
        if label is None:
            raise UserError(f"{path} line {line}: sentiment {sentiment!r} is not 'positive' or 'negative'")
        text = text.strip()
        if not text:
            raise UserError(f"{path} line {line}: the review is empty")
        texts.append(text)
        labels.append(label)
    if not texts:
        raise UserError(f"{path} has a header but no labelled rows")
    return LabelledReviews(str(path), hashlib.sha256(raw).hexdigest(), tuple(texts), tuple(labels))


def _decode(path: Path, raw: bytes) -> str:
    gzipped = raw.startswith(_GZIP_MAGIC)
    if gzipped:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise UserError(f"{path} is not a readable gzip file: {exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        where = f"byte {exc.start} of the decompressed data" if gzipped else f"byte {exc.start}"
        raise UserError(f"{path} is not UTF-8 text ({where}); labels are a plain or gzip CSV file") from None


def _records(path: Path, text: str) -> Iterator[tuple[int, str, str]]:
    """``(line, review, sentiment)`` per data row; ``line`` is where the row starts (1 = header)."""
    # One review can exceed the csv module's default field limit (128 KiB); a field never exceeds the file.
    csv.field_size_limit(max(csv.field_size_limit(), len(text)))
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise UserError(f"{path} is empty: expected a header with columns {TEXT_FIELD}, {LABEL_FIELD}")
        names = [name.strip() for name in header]
        missing = [field for field in (TEXT_FIELD, LABEL_FIELD) if field not in names]
        if missing:
            raise UserError(
                f"{path} has no column {', '.join(missing)}: expected {TEXT_FIELD}, {LABEL_FIELD}; "
                f"found {_shorten(', '.join(names)) or 'none'}"
            )
        text_at, label_at = names.index(TEXT_FIELD), names.index(LABEL_FIELD)
        start = reader.line_num + 1
        for record in reader:
            if record:  # a blank line is not a row
                if len(record) != len(names):
                    raise UserError(f"{path} line {start}: {len(record)} fields where the header has {len(names)}")
                yield start, record[text_at], record[label_at]
            start = reader.line_num + 1
    except csv.Error as exc:
        raise UserError(f"{path} line {reader.line_num}: not well-formed CSV ({exc})") from None


def _shorten(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
