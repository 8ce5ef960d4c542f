"""The classified layer's files: one build attempt's write of the vendor dates it classifies, and reads of any dates.

A build writes the layer rows of the dates it classifies (``sources.VendorSource.layer_rows``) with one
``partitionBy`` write per source into a folder of its own attempt (``obt_contract.layout.layer_folder``):
``SOURCE/ingest_date=D/part-*.parquet``. A file holds every layer column: the rules read all but the text parts
(``sources.VendorSource.text_parts``; Parquet reads only the columns asked for), and quarantine records read the
text parts of just the dates that need them. Files are read by the URIs a date's marker names, never by listing a
folder, so each row's ingest date comes from its file's path, as it does for the vendor CSV files themselves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from obt_contract.layout import INGEST_DATE_IN_PATH
from obt_job.vendor import DATE


def date_of_file() -> Column:
    """Each row's ingest date, from the path of the file it was read from (a raw vendor file or a layer file)."""
    return F.to_date(F.regexp_extract(F.col("_metadata.file_path"), INGEST_DATE_IN_PATH, 1), "yyyy-MM-dd")


def write(rows: DataFrame, folder_uri: str) -> None:
    """One file per date and task under ``folder_uri`` (new: an attempt never writes into another's folder)."""
    rows.write.partitionBy(DATE).parquet(folder_uri)


def files_by_date(folder: str, names: Iterable[str]) -> dict[date, tuple[str, ...]]:
    """The URIs of the files ``write`` made under ``folder`` (``names`` relative to it), by their ingest date."""
    found: dict[date, list[str]] = {}
    for name in sorted(names):
        match = re.match(INGEST_DATE_IN_PATH, f"/{name}")
        if match:
            found.setdefault(date.fromisoformat(match[1]), []).append(folder + name)
    return {day: tuple(uris) for day, uris in found.items()}


def read(spark: SparkSession, schema: StructType, uris: Sequence[str], columns: Sequence[str]) -> DataFrame:
    """``ingest_date`` and ``columns`` of the layer rows in the files at ``uris`` (any dates, any builds' files);
    ``schema`` is the layer rows' (``ingest_date`` among them), so no file needs to be opened to know it."""
    if not uris:
        return spark.createDataFrame([], schema).select(DATE, *columns)
    in_files = StructType([field for field in schema.fields if field.name != DATE])
    return spark.read.schema(in_files).parquet(*uris).select(date_of_file().alias(DATE), *columns)
