"""The job's input file sources, one ``SOURCES`` entry each: what the build reads, classifies, caches and counts.

The build takes every entry through the same steps (``job.Build``): read its URIs with ``csv_input``, run its
``classify``, cache the rows without its ``uncached`` columns, count them per reason (plus its ``tally``) in the
query that fills the cache, quarantine its rejected rows and list its counts in the manifest, with every reason
of ``obt_contract.sources.REASONS`` (zeros included). Names and reasons come from the contract only.

A new file source needs exactly:

1. a module ``obt_job/<source>.py`` with ``COLUMNS`` (the CSV's columns, in file order; a record equal to
   them is a header) and ``classify(df) -> DataFrame``: ``df`` holds those string columns and ``_corrupt``,
   the result every row with ``reason`` (NULL = kept, else one of the source's reasons), ``raw`` (the record's
   text, for rejected rows), ``detail``, and whatever later steps read;
2. its name and reasons, in rule order, in ``obt_contract.sources`` (owned with the deployed functions, which
   plan and load builds by these names);
3. a repeatable flag in ``args.py`` (``JobArgs`` field and parser argument; the function that submits the
   batch must pass it, ``docs/contracts.md``). The field's name is also the source's key in the manifest's
   ``inputs``;
4. an entry below: its contract name, that field, its module's ``COLUMNS`` and ``classify``, and when the
   manifest reports figures from it, its ``tally`` (which ``manifest.metrics`` reads), and the text columns
   nothing after ``classify`` needs, kept out of the cache.

Its rows then reach the manifest and the quarantine. Reaching the OBT is a step of its own (``job.Build``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES
from obt_job import logs, purchases, reviews, tagging, vendor
from obt_job.args import JobArgs


class Tally(NamedTuple):
    """What a source's count query adds to its rows per ``reason``: more grouping columns, and named sums."""

    by: list[Column]
    sums: dict[str, Column]


def _no_tally() -> Tally:
    return Tally([], {})


@dataclass(frozen=True)
class FileSource:
    """One input file source. ``tally`` is a function because a ``Column`` needs the running Spark session."""

    name: str  # in obt_contract.sources
    arg: str  # the JobArgs field holding its URIs, and its key in the manifest's ``inputs``
    columns: tuple[str, ...]
    classify: Callable[[DataFrame], DataFrame]
    tally: Callable[[], Tally] = _no_tally
    # Left out of the cache: the rules that read them run before it, and a rejected row's ``raw`` is built
    # there. Caching review texts cost more than the rules on them (spark_jobs/README.md).
    uncached: tuple[str, ...] = ()

    def uris(self, args: JobArgs) -> tuple[str, ...]:
        return getattr(args, self.arg)


def _purchases_tally() -> Tally:
    return Tally([], {"customers": F.countDistinct("customer_id"), "amount": F.sum(purchases.amount())})


def _reviews_tally() -> Tally:
    return Tally([], {"positive": F.sum("positive_review"), **tagging.tally()})


def _logs_tally() -> Tally:
    # A kept row's location as written when it is no known state, else NULL: one group per unknown location.
    unknown = F.when(F.col("reason").isNull() & F.col("unknown_location"), F.col("location"))
    return Tally([unknown.alias("unknown_location")], {})


SOURCES: tuple[FileSource, ...] = (
    FileSource(PURCHASES, "purchases", purchases.COLUMNS, purchases.classify, _purchases_tally),
    FileSource(
        MOVIE_REVIEW,
        "movie_reviews",
        reviews.COLUMNS,
        reviews.classify,
        _reviews_tally,
        uncached=tuple(vendor.text_columns(reviews.COLUMNS, reviews.IDS)),
    ),
    FileSource(
        LOG_REVIEWS,
        "log_reviews",
        logs.COLUMNS,
        logs.classify,
        _logs_tally,
        uncached=tuple(vendor.text_columns(logs.COLUMNS, logs.IDS)),
    ),
)


def input_uris(args: JobArgs) -> tuple[str, ...]:
    """Every input the build reads: the purchase snapshot's manifest, then every source's URIs."""
    return (args.purchases_manifest, *(uri for s in SOURCES for uri in s.uris(args)))


def manifest_inputs(args: JobArgs, record: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``inputs``: the purchase snapshot's manifest, then every source's inputs, each as ``record``
    describes what was read of it (``inputs.InputGuard.record``)."""
    return {"purchases_manifest": record(args.purchases_manifest)} | {
        s.arg: [record(uri) for uri in s.uris(args)] for s in SOURCES
    }
