"""The classified layer's files: one build attempt's write of the vendor dates it classifies, and reads of any dates.

A build writes the layer rows of the dates it classifies (``sources.VendorSource.layer_rows``) with one
``partitionBy`` write per source into a folder of its own attempt (``obt_contract.layout.layer_folder``):
``SOURCE/ingest_date=D/part-*.parquet``. A file holds every layer column: the rules read all but the text parts
(``sources.VendorSource.text_parts``; Parquet reads only the columns asked for), and quarantine records read the
text parts of just the dates that need them. Files are read by the URIs a date's marker names, never by listing a
folder, so Spark does not see the ``ingest_date`` folders as a partition column: the files keep the date as a
column of their own (``_ingest_date``, one value a file, which Parquet stores in a few bytes), so a read takes each
row's date from there instead of cutting it from its file's path, which cost ~3 µs a row (most of a 30-day build's
extra CPU).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StructField, StructType

from obt_contract.layout import INGEST_DATE_SEGMENT, ingest_date_in_path
from obt_job.vendor import DATE

# A layer file's copy of its folder's ingest date.
_IN_FILE = "_ingest_date"


def date_of_file() -> Column:
    """Each row's ingest date, from the path of the raw vendor file it was read from (``layout.ingest_date_in_path``:
    the ten characters after the last ``/ingest_date=``; a path without one fails the query, ANSI mode)."""
    after = F.substring_index(F.col("_metadata.file_path"), INGEST_DATE_SEGMENT, -1)
    return F.substring(after, 1, 10).cast("date")


def write(rows: DataFrame, folder_uri: str) -> None:
    """One file per date and task under ``folder_uri`` (new: an attempt never writes into another's folder)."""
    rows.withColumn(_IN_FILE, F.col(DATE)).write.partitionBy(DATE).parquet(folder_uri)


def files_by_date(folder: str, names: Iterable[str]) -> dict[date, tuple[str, ...]]:
    """The URIs of the files ``write`` made under ``folder`` (``names`` relative to it), by their ingest date."""
    found: dict[date, list[str]] = {}
    for name in sorted(names):
        day = ingest_date_in_path(f"/{name}")
        if day is not None:
            found.setdefault(day, []).append(folder + name)
    return {day: tuple(uris) for day, uris in found.items()}


def read(spark: SparkSession, schema: StructType, uris: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """``ingest_date`` and ``columns`` of the layer rows in the files at ``uris`` (any dates, any builds' files);
    ``schema`` is the layer rows' (``ingest_date`` among them), so no file needs to be opened to know it."""
    if not uris:
        return spark.createDataFrame([], schema).select(DATE, *columns)
    in_files = StructType(
        [*(field for field in schema.fields if field.name != DATE), StructField(_IN_FILE, DateType())]
    )
    return spark.read.schema(in_files).parquet(*uris).select(F.col(_IN_FILE).alias(DATE), *columns)
