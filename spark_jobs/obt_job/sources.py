"""The job's input file sources, one ``SOURCES`` entry each: what the build reads, classifies, caches and counts.

The purchase snapshot (a ``SnapshotSource``) is read and classified whole by every build: read its URIs with
``csv_input``, run its ``classify``, cache the rows, count them per reason (plus its ``tally``) in the query that
fills the cache. A vendor file (a ``VendorSource``) is classified once per ingest date into the classified layer
(``layer``; ``classify_rows``, its ``row_fields`` and ``layer_rows``), and every build then runs the rules across dates
(``apply_rules``) over the layer rows of all its dates, caches and counts them the same way (``tally``, per date).
Either way its rejected rows reach the quarantine and its counts the manifest, with every reason of
``obt_contract.sources.REASONS`` (zeros included). Names and reasons come from the contract only.

A new file source needs exactly:

1. a module ``obt_job/<source>.py`` with ``COLUMNS`` (the CSV's columns, in file order; a record equal to
   them is a header) and either ``classify(df) -> DataFrame`` (a snapshot: ``df`` holds those string columns and
   ``_corrupt``, the result every row with ``reason`` (NULL = kept, else one of the source's reasons), ``raw`` (the
   record's text, for rejected rows), ``detail``, and whatever later steps read), or ``IDS`` and ``row_fields`` (a
   vendor file keyed by review id: the fields it adds to ``vendor.classify_rows``' rows, with its own row rule's
   column when it has one);
2. its name and reasons, in rule order, in ``obt_contract.sources`` (owned with the deployed functions, which
   plan and load builds by these names);
3. a repeatable flag in ``args.py`` (``JobArgs`` field and parser argument; the function that submits the
   batch must pass it, ``docs/contracts.md``). The field's name is also the source's key in the manifest's
   ``inputs``;
4. an entry below: its contract name, that field, its module's pieces, and when the manifest reports figures from
   it, its ``tally`` (which ``manifest.metrics`` reads).

Its rows then reach the manifest and the quarantine. Reaching the OBT is a step of its own (``job.Build``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES
from obt_job import logs, purchases, reviews, tagging, vendor
from obt_job.args import JobArgs
from obt_job.manifest import ROW_RULE_ROWS


class Tally(NamedTuple):
    """What a source's count query adds to its rows per ``reason``: more grouping columns, and named sums."""

    by: list[Column]
    sums: dict[str, Column]


def _no_tally() -> Tally:
    return Tally([], {})


@dataclass(frozen=True, kw_only=True)
class FileSource:
    """One input file source. ``tally`` is a function because a ``Column`` needs the running Spark session."""

    name: str  # in obt_contract.sources
    arg: str  # the JobArgs field holding its URIs, and its key in the manifest's ``inputs``
    columns: tuple[str, ...]
    tally: Callable[[], Tally] = _no_tally

    def uris(self, args: JobArgs) -> tuple[str, ...]:
        return getattr(args, self.arg)


@dataclass(frozen=True, kw_only=True)
class SnapshotSource(FileSource):
    """Read and classified whole by every build."""

    classify: Callable[[DataFrame], DataFrame]


# A vendor tally's count of the rejected rows whose record the layer did not keep (``vendor.with_texts``).
NEEDS_TEXT = "needs_text"


@dataclass(frozen=True, kw_only=True)
class VendorSource(FileSource):
    """A vendor file: each ingest date classified once into the layer, then the rules across every date."""

    ids: Mapping[str, str]  # raw id column -> typed name; vendor.KEY among them
    row_fields: Callable[[DataFrame], DataFrame]
    row_rule: str | None = None  # the source's own rule after the vendor rules: its reason and its column

    def classify_rows(self, df: DataFrame, buckets: int) -> DataFrame:
        """The rows of the dates in ``df`` (``vendor.classify_rows``'s input) with the source's own fields."""
        return self.row_fields(vendor.classify_rows(df, self.columns, self.ids, buckets))

    def layer_rows(self, rows: DataFrame) -> DataFrame:
        return vendor.layer_rows(rows, self.columns, self.ids, self.row_rule)

    def apply_rules(self, rows: DataFrame) -> DataFrame:
        return vendor.apply_rules(rows, self.row_rule)

    @property
    def text_parts(self) -> list[str]:
        """The layer's columns only quarantine records read: left out of every other read of the layer."""
        return vendor.text_parts(self.columns, self.ids)

    def counted(self) -> Tally:
        """The source's ``tally`` split by ingest date, with two counts every vendor source needs: the rejected rows
        whose record the quarantine reads from the texts, and the rows failing the row rule (a layer marker's)."""
        own = self.tally()
        sums = {**own.sums, NEEDS_TEXT: F.count(F.when(F.col("reason").isNotNull() & F.col("raw").isNull(), 1))}
        if self.row_rule:
            sums[ROW_RULE_ROWS] = F.count(F.col(self.row_rule))
        return Tally([F.col(vendor.DATE), *own.by], sums)


def _purchases_tally() -> Tally:
    return Tally([], {"customers": F.countDistinct("customer_id"), "amount": F.sum(purchases.amount())})


def _reviews_tally() -> Tally:
    return Tally([], {"positive": F.sum("positive_review"), **tagging.tally()})


def _logs_tally() -> Tally:
    # A kept row's location as written when it is no known state, else NULL: one group per unknown location.
    unknown = F.when(F.col("reason").isNull() & F.col("unknown_location"), F.col("location"))
    return Tally([unknown.alias("unknown_location")], {})


PURCHASE_SOURCE = SnapshotSource(
    name=PURCHASES, arg="purchases", columns=purchases.COLUMNS, classify=purchases.classify, tally=_purchases_tally
)
VENDOR_SOURCES: tuple[VendorSource, ...] = (
    VendorSource(
        name=MOVIE_REVIEW,
        arg="movie_reviews",
        columns=reviews.COLUMNS,
        ids=reviews.IDS,
        row_fields=reviews.row_fields,
        tally=_reviews_tally,
    ),
    VendorSource(
        name=LOG_REVIEWS,
        arg="log_reviews",
        columns=logs.COLUMNS,
        ids=logs.IDS,
        row_fields=logs.row_fields,
        row_rule=logs.ROW_RULE,
        tally=_logs_tally,
    ),
)
SOURCES: tuple[FileSource, ...] = (PURCHASE_SOURCE, *VENDOR_SOURCES)


def input_uris(args: JobArgs) -> tuple[str, ...]:
    """Every input the build reads: the purchase snapshot's manifest, then every source's URIs."""
    return (args.purchases_manifest, *(uri for s in SOURCES for uri in s.uris(args)))


def manifest_inputs(args: JobArgs, record: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``inputs``: the purchase snapshot's manifest, then every source's inputs, each as ``record``
    describes what was read of it (``inputs.InputGuard.record``)."""
    return {"purchases_manifest": record(args.purchases_manifest)} | {
        s.arg: [record(uri) for uri in s.uris(args)] for s in SOURCES
    }
