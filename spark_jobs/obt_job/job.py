"""The build, start to finish: read, classify, write Parquet and quarantine, manifest last, publish, mark.

A crash at any point before the manifest leaves no manifest (``obt reconcile`` then reports the build).
The output directory is overwritten first, so a rerun of the same build never mixes two attempts.

The job keeps no copy of the contract: object names are ``obt_contract.layout``'s under the ``--output`` root,
the completion message is ``obt_contract.message``'s, source names and reasons ``obt_contract.sources``'.
The steps are ``Build``'s methods, in the order its docstring gives; the file sources are ``sources.SOURCES``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from typing import Any, NamedTuple

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from obt_contract import layout
from obt_contract.message import completion_message, encode
from obt_contract.sources import ALL_SOURCES, JOIN, LOG_REVIEWS, MOVIE_REVIEW, PURCHASES
from obt_job import fs, mirror, publish, purchases, tagging
from obt_job import manifest as mf
from obt_job import obt as obt_table
from obt_job.args import JobArgs, parse_args
from obt_job.csv_input import read_records
from obt_job.inputs import InputGuard, state_reader
from obt_job.log import get_logger
from obt_job.paths import MIRROR_CONF, PathMap
from obt_job.sources import SOURCES, FileSource, input_uris, manifest_inputs

log = get_logger("obt_job")

QUARANTINE_COLUMNS = ("reason", "raw", "detail")


def configure(spark: SparkSession) -> None:
    # Column pruning would let the CSV parser skip fields it is not asked for and miss malformed records.
    spark.conf.set("spark.sql.csv.parser.columnPruning.enabled", "false")
    spark.conf.set("spark.sql.session.timeZone", "UTC")
    # The classified sources are cached; without this, adaptive execution may not coalesce the shuffle
    # partitions inside cached plans, and a small build pays for 200 near-empty tasks per stage.
    spark.conf.set("spark.sql.optimizer.canChangeCachedPlanOutputPartitioning", "true")
    spark.conf.set("spark.sql.adaptive.enabled", "true")
    spark.sparkContext._jsc.hadoopConfiguration().set("mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")


def _tally(
    classified: DataFrame, by: Sequence[Column] = (), sums: Mapping[str, Column] | None = None
) -> list[dict[str, Any]]:
    """Rows per reason (``count``), split further ``by`` and with ``sums``: a source's counts and its part of
    the manifest's metrics come from one query, the one that also fills its cache."""
    aggregates = [F.count("*").alias("count")] + [c.alias(name) for name, c in (sums or {}).items()]
    return [row.asDict() for row in classified.groupBy(F.col("reason"), *by).agg(*aggregates).collect()]


class Classified(NamedTuple):
    """One source after its rules: every row with its texts (not cached), the cached rows, their tally."""

    source: DataFrame
    rows: DataFrame
    tally: list[dict[str, Any]]


def _kept(classified: DataFrame) -> DataFrame:
    return classified.where(F.col("reason").isNull())


def _concurrently(tasks: Mapping[str, Callable[[], Any]]) -> dict[str, Any]:
    """Run independent Spark actions side by side: each multi-line CSV file is read by one task, so one
    source at a time would leave cores idle, and the driver plans one source while another runs."""
    with ThreadPoolExecutor(max_workers=len(tasks)) as pool:
        futures = {name: pool.submit(task) for name, task in tasks.items()}
        return {name: future.result() for name, future in futures.items()}


def _utc_now() -> str:
    return datetime.now(UTC).isoformat()


class Build:
    """One build: its output locations and its steps, which ``run`` takes in this order.

    1. ``pin_inputs``: every input's state before anything is read (``inputs``): a pinned generation a read would
       not get stops the build here, with nothing read (``inputs.InputGone``).
    2. ``read_snapshot_manifest``: the purchase snapshot's manifest (its row count is checked in 10).
    3. ``load_tagger``, then ``classify_sources``: the review tagger ``--tagger-model`` names, if any, loaded
       (``tagging``: a model unusable for this build stops it before any source is read); then every
       ``sources.SOURCES`` entry read and classified, concurrently, the kept reviews scored by the tagger (NULL
       scores without one); each one's rows cached without their texts and tallied (counts per reason, its share
       of the metrics) by the one query that fills the cache.
    4. ``join_reviews_and_logs``: kept reviews and kept logs, 1:1 on review id; cached and tallied as the source
       ``review_log_join``, whose rejected rows are the orphans of either side.
    5. ``count_sources``: every source's counts for the manifest, from its tally.
    6. ``aggregate_customers``: the purchase metrics per customer, from the kept purchase lines.
    7. ``write_obt``: the matched reviews and logs aggregated per key, the customer metrics LEFT-joined, as
       Parquet (its rows counted while written).
    8. ``write_quarantine``: every source's rejected rows, concurrently (an orphan's text is read again from
       its vendor file only when the join has orphans). The last step that reads an input.
    9. ``confirm_inputs``: every input's state again, after its last read: an input that changed fails the build.
    10. ``verdict``: the input changes and data-quality problems that fail the build.
    11. ``write_manifest``: the manifest (with what was read of every input), the build's last output.
    12. ``upload_outputs``, local mirror mode only: Parquet, then quarantine, then the manifest.
    13. ``announce``: the completion message, then the publication marker.

    A new file source takes every step but the OBT's own (4, 6, 7) through its ``sources.SOURCES`` entry alone.
    A step that derives OBT columns (say, a review score from the review texts, which ``Classified.source``
    holds) goes between 6 and 7: it takes the ``matched`` rows and returns them with its columns, for
    ``obt.build`` to aggregate into the columns ``obt_contract.schema`` declares. (The tagger's scores are derived
    in 3 instead: they need the review texts, which ``Classified.source`` would read and classify again.)
    """

    def __init__(self, spark: SparkSession, args: JobArgs) -> None:
        self.spark = spark
        self.args = args
        self.paths = PathMap(spark.conf.get(MIRROR_CONF, None) or None)
        root = args.output_root
        self.obt_prefix = f"{root}/{layout.build_prefix(args.build_id)}"
        self.manifest_uri = f"{root}/{layout.build_manifest_name(args.build_id)}"
        self.marker_uri = f"{root}/{layout.build_marker_name(args.build_id)}"
        self.quarantine_prefix = {s: f"{root}/{layout.quarantine_prefix(s, args.build_id)}" for s in ALL_SOURCES}
        self.guard = InputGuard(input_uris(args), state_reader(self.paths))
        self._persisted: list[DataFrame] = []
        self.tagger: tagging.Tagger | None = None  # set by load_tagger
        self._started = 0.0  # time.monotonic() when run began

    def run(self) -> dict[str, Any]:
        """The steps of the class docstring, in order; returns the manifest written."""
        self._started = time.monotonic()
        log.info(
            "build started", build_id=self.args.build_id, mirror=self.paths.mirror_dir, inputs=len(self.args.purchases)
        )
        try:
            self.pin_inputs()
            snapshot = self.read_snapshot_manifest()
            self.load_tagger()
            classified = self.classify_sources()
            classified[JOIN] = self.join_reviews_and_logs(classified)
            counts = self.count_sources(classified)
            customers = self.aggregate_customers(classified)
            matched = _kept(classified[JOIN].rows)
            obt_rows = self.write_obt(matched, customers)
            self.write_quarantine(classified, counts)
            problems = self.verdict(snapshot, counts, self.confirm_inputs())
            manifest = self.write_manifest(classified, counts, obt_rows, problems)
            if self.paths.mirrored:
                self.upload_outputs(manifest)
            self.announce(manifest)
            return manifest
        finally:
            for df in self._persisted:
                df.unpersist()

    def pin_inputs(self) -> None:
        self.guard.pin()
        log.info("inputs pinned", build_id=self.args.build_id, inputs=len(self.guard.pinned))

    def read_snapshot_manifest(self) -> dict[str, Any]:
        return json.loads(fs.read_text(self.spark, self.paths.spark_uri(self.args.purchases_manifest)))

    def load_tagger(self) -> None:
        if self.args.tagger_model:
            tagger = self.tagger = tagging.load(self.spark, self.paths, self.args.tagger_model)
            log.info("tagger loaded", build_id=self.args.build_id, uri=tagger.uri, model_version=tagger.model_version)

    def classify_sources(self) -> dict[str, Classified]:
        return _concurrently({source.name: partial(self._classify, source) for source in SOURCES})

    def join_reviews_and_logs(self, classified: Mapping[str, Classified]) -> Classified:
        joined = obt_table.join_reviews_logs(_kept(classified[MOVIE_REVIEW].rows), _kept(classified[LOG_REVIEWS].rows))
        rows = self._keep(joined)
        return Classified(joined, rows, _tally(rows))

    def count_sources(self, classified: Mapping[str, Classified]) -> dict[str, dict[str, Any]]:
        counts = {name: mf.source_counts(name, mf.by_reason(c.tally)) for name, c in classified.items()}
        log.info("sources classified", build_id=self.args.build_id, sources=counts)
        return counts

    def aggregate_customers(self, classified: Mapping[str, Classified]) -> DataFrame:
        return purchases.customer_aggregate(_kept(classified[PURCHASES].rows))

    def write_obt(self, matched: DataFrame, customers: DataFrame) -> int:
        """Writes the OBT's Parquet; returns its row count, observed during the write instead of read back."""
        written = Observation()
        table = obt_table.build(matched, customers)
        table.observe(written, F.count(F.lit(1)).alias("rows")).write.mode("overwrite").parquet(
            self.paths.spark_uri(self.obt_prefix)
        )
        return int(written.get["rows"])

    def write_quarantine(self, classified: Mapping[str, Classified], counts: Mapping[str, Mapping[str, Any]]) -> None:
        rejected = {name: c.rows.where(F.col("reason").isNotNull()) for name, c in classified.items()}
        if counts[JOIN]["kept"] < counts[JOIN]["read"]:
            # Only then: the orphans' texts come from the uncached vendor sources, which are read again.
            rejected[JOIN] = obt_table.orphan_records(
                rejected[JOIN], _kept(classified[MOVIE_REVIEW].source), _kept(classified[LOG_REVIEWS].source)
            )
        _concurrently({name: partial(self._write_rejected, name, df) for name, df in rejected.items()})

    def confirm_inputs(self) -> list[str]:
        """A problem per input that changed since ``pin_inputs``: its reads may have mixed two versions."""
        changed = self.guard.changes()
        if changed:
            log.error("inputs changed while the build read them", build_id=self.args.build_id, problems=changed)
        return changed

    def verdict(
        self, snapshot: Mapping[str, Any], counts: Mapping[str, Mapping[str, Any]], changed: list[str]
    ) -> list[str]:
        """Readable problems that fail the build, changed inputs first; none means it succeeds."""
        problems = changed + mf.snapshot_problems(snapshot, counts[PURCHASES]["read"])
        return problems + mf.quality_problems(counts, self.args.max_quarantine_share)

    def write_manifest(
        self,
        classified: Mapping[str, Classified],
        counts: Mapping[str, Mapping[str, Any]],
        obt_rows: int,
        problems: list[str],
    ) -> dict[str, Any]:
        manifest = mf.build(
            self.args,
            inputs=manifest_inputs(self.args, self.guard.record),
            sources=counts,
            obt_prefix=self.obt_prefix,
            obt_files=self._names(self.obt_prefix),
            obt_rows=obt_rows,
            metrics=mf.metrics({name: c.tally for name, c in classified.items()}),
            tagger=tagging.manifest_record(self.tagger, classified[MOVIE_REVIEW].tally),
            problems=problems,
            created_at=_utc_now(),
        )
        fs.write_text(self.spark, self.paths.spark_uri(self.manifest_uri), json.dumps(manifest, indent=2))
        log.info(
            "manifest written",
            build_id=self.args.build_id,
            status=manifest["status"],
            reason=manifest["reason"],
            obt_rows=obt_rows,
            manifest_uri=self.manifest_uri,
            seconds=round(time.monotonic() - self._started, 1),
        )
        return manifest

    def upload_outputs(self, manifest: Mapping[str, Any]) -> None:
        mirror.upload(self.paths, [self.obt_prefix + name for name in manifest["obt"]["files"]], "obt parquet")
        quarantine = [prefix + name for prefix in self.quarantine_prefix.values() for name in self._names(prefix)]
        mirror.upload(self.paths, quarantine, "quarantine parquet")
        mirror.upload(self.paths, [self.manifest_uri], "manifest")

    def announce(self, manifest: Mapping[str, Any]) -> None:
        """The contract's completion message (its limits applied), then the marker saying it was published."""
        message = completion_message(self.args.build_id, self.manifest_uri, manifest["status"], manifest["reason"])
        message_id = publish.publish(self.args.topic, encode(message), message.attributes(origin="job"))
        marker = {"message_id": message_id, "published_at": _utc_now(), "status": manifest["status"]}
        fs.write_text(self.spark, self.paths.spark_uri(self.marker_uri), json.dumps(marker))
        if self.paths.mirrored:
            mirror.upload(self.paths, [self.marker_uri], "publication marker")
        log.info("build announced", build_id=self.args.build_id, message_id=message_id, marker=self.marker_uri)

    def _keep(self, df: DataFrame) -> DataFrame:
        self._persisted.append(df.persist(StorageLevel.MEMORY_AND_DISK))
        return self._persisted[-1]

    def _classify(self, source: FileSource) -> Classified:
        uris = [self.paths.spark_uri(uri) for uri in source.uris(self.args)]
        classified = source.classify(read_records(self.spark, uris, source.columns))
        if source.name == MOVIE_REVIEW:
            # Before the cache, which leaves the texts the model reads out.
            classified = tagging.score(self.tagger, classified)
        rows = self._keep(classified.drop(*source.uncached))
        return Classified(classified, rows, _tally(rows, *source.tally()))

    def _write_rejected(self, source: str, rejected: DataFrame) -> None:
        rejected = rejected.select(*QUARANTINE_COLUMNS)
        rejected.coalesce(1).write.mode("overwrite").parquet(self.paths.spark_uri(self.quarantine_prefix[source]))

    def _names(self, prefix: str) -> list[str]:
        return fs.list_names(self.spark, self.paths.spark_uri(prefix), "part-", ".parquet")


def run(spark: SparkSession, args: JobArgs) -> dict[str, Any]:
    configure(spark)
    return Build(spark, args).run()


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    spark = SparkSession.builder.appName(f"build_obt {args.build_id}").getOrCreate()
    try:
        run(spark, args)
    except Exception as exc:
        # No manifest exists at this point unless publishing failed; reconcile reports the build either way.
        log.error("build crashed", build_id=args.build_id, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        spark.stop()
    return 0
