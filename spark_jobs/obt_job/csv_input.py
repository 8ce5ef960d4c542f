"""Hostile-file-proof CSV reading: every record the files hold comes out as one row, never an exception.

Spark's CSV reader in PERMISSIVE, multi-line mode (quoted fields may hold newlines, as movie reviews do)
with every column as a string and a corrupt-record column: a record with too many or too few fields, or
truncated inside quotes, keeps its raw text in ``_corrupt``. Invalid UTF-8 decodes to U+FFFD, a leading BOM
and CRLF line ends are accepted. Header records are recognised by value, not by position, so a file
without a header loses no row and a header-only or empty file yields nothing. Header names are compared
exactly (a header with other spelling or spacing is a malformed record, not silently dropped).

An unbalanced quote is the one ambiguity CSV cannot resolve, since newlines are legal inside quotes.
With ``STOP_AT_DELIMITER`` a quoted value that meets a stray quote is re-read as unquoted text up to the next
delimiter, keeping its opening quote; when that crossed a line break it swallowed the next physical line,
which ``swallowed_line`` detects so the merged record is quarantined whole. (``BACK_TO_DELIMITER`` keeps
the lines apart but misaligns the corrupt-record text of the records after it, so it is not used.) A quote
left open until the end of the file yields one malformed record holding the rest of the file.
"""

from __future__ import annotations

from collections.abc import Sequence

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

CORRUPT = "_corrupt"
BOM = "\ufeff"


def read_records(spark: SparkSession, uris: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """Rows of string ``columns`` plus ``_corrupt`` (raw text of malformed records), headers removed."""
    schema = StructType([StructField(c, StringType()) for c in columns] + [StructField(CORRUPT, StringType())])
    df = (
        spark.read.schema(schema)
        .option("header", False)
        .option("multiLine", True)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("encoding", "UTF-8")
        .option("quote", '"')
        .option("escape", '"')
        .option("unescapedQuoteHandling", "STOP_AT_DELIMITER")
        .csv(list(uris))
    )
    return df.where(~is_header(columns))


def clean_text(column: Column) -> Column:
    """Trimmed text with a stray byte-order mark removed; empty becomes NULL."""
    # A prefix test, not a regex: an anchored pattern is still tried at every position of a long review.
    text = F.trim(F.when(column.startswith(BOM), column.substr(F.lit(2), F.length(column))).otherwise(column))
    return F.when(text == "", None).otherwise(text)


def is_header(columns: Sequence[str]) -> Column:
    """Plain comparisons, no regex: this runs on every record (a regex here cost more than the parsing)."""
    first, *rest = columns
    cond = F.col(first).isin(first, BOM + first)
    for c in rest:
        cond = cond & (F.col(c) == F.lit(c))
    return F.coalesce(cond, F.lit(False))


def raw_text(columns: Sequence[str]) -> Column:
    """The record as read: the original text when malformed, else the parsed fields re-encoded as CSV."""
    return F.coalesce(F.col(CORRUPT), csv_text([F.col(c) for c in columns]))


def csv_text(fields: Sequence[Column]) -> Column:
    """Fields encoded as one CSV record with RFC 4180 quoting (a quote doubled), as the sources use."""
    return F.to_csv(F.struct(*fields), {"quote": '"', "escape": '"'})


def swallowed_line(value: Column) -> Column:
    """A field that fell back from quoted to unquoted parsing across a line break (see module docstring)."""
    return F.coalesce(value.startswith('"') & value.rlike("[\\r\\n]"), F.lit(False))
