"""The build, start to finish: read, classify, write Parquet and quarantine, manifest last, publish, mark.

A crash at any point before the manifest leaves no manifest (``obt reconcile`` then reports the build).
The output directory is overwritten first, so a rerun of the same build never mixes two attempts; the classified
layer's files go to a folder of the attempt's own, and only a date's marker, written last, makes them its layer.

The job keeps no copy of the contract: object names are ``obt_contract.layout``'s under the ``--output`` root,
the completion message is ``obt_contract.message``'s, source names and reasons ``obt_contract.sources``'.
The steps are ``Build``'s methods, in the order its docstring gives; the file sources are ``sources.SOURCES``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, NamedTuple

from pyspark import StorageLevel
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import DateType, StringType, StructField, StructType

from obt_contract import layout
from obt_contract.message import completion_message, encode
from obt_contract.sources import (
    ALL_SOURCES,
    JOIN,
    LOG_REVIEWS,
    LOG_WITHOUT_REVIEW,
    MOVIE_REVIEW,
    PURCHASES,
    REVIEW_WITHOUT_LOG,
)
from obt_job import fs, layer, markers, mirror, publish, purchases, tagging, vendor, vendor_dates
from obt_job import manifest as mf
from obt_job import obt as obt_table
from obt_job.args import JobArgs, parse_args
from obt_job.csv_input import CORRUPT, read_records
from obt_job.inputs import InputGuard, state_reader
from obt_job.log import get_logger
from obt_job.paths import MIRROR_CONF, PathMap
from obt_job.sources import (
    NEEDS_TEXT,
    PURCHASE_SOURCE,
    VENDOR_SOURCES,
    VendorSource,
    input_uris,
    manifest_inputs,
)
from obt_job.vendor_dates import Layer, VendorDate

log = get_logger("obt_job")

QUARANTINE_COLUMNS = ("reason", "raw", "detail")
_VENDOR = {source.name: source for source in VENDOR_SOURCES}


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
    """One source after its rules: every row with its reason, cached without texts, and its tally."""

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


def _days(tally: Sequence[Mapping[str, Any]], counted: Callable[[Mapping[str, Any]], bool]) -> set[date]:
    return {row[vendor.DATE] for row in tally if counted(row)}


class Build:
    """One build: its output locations and its steps, which ``run`` takes in this order.

    1. ``pin_inputs``: every input's state before anything is read (``inputs``): a pinned generation a read would
       not get stops the build here, with nothing read (``inputs.InputGone``).
    2. ``read_snapshot_manifest``: the purchase snapshot's manifest (its row count is checked in 12).
    3. ``load_tagger``: the review tagger ``--tagger-model`` names, if any (``tagging``: a model unusable for this
       build stops it before any source is read; the model itself is loaded only when a date needs scoring).
    4. ``find_layers``: the vendor inputs grouped by ingest date, and the marker of each date an earlier build
       classified (``vendor_dates``, ``markers``; none with ``--full-rebuild``); in mirror mode their files brought
       down.
    5. ``classify_sources``, concurrently (first, when a review date is to be scored, the tagger's model loaded):
       the purchase snapshot read and classified; each vendor source's dates
       without a layer read, classified per row (the reviews scored by the tagger) and written as this build's
       layer files; then the rules across dates over the layer rows of every date. Each source's rows cached
       without their texts and tallied (counts per reason and date, its share of the metrics) by the one query
       that fills the cache.
    6. ``join_reviews_and_logs``: kept reviews and kept logs of every date, 1:1 on review id; cached and tallied as
       the source ``review_log_join``, whose rejected rows are the orphans of either side.
    7. ``count_sources``: every source's counts for the manifest, from its tally (the vendor sources' per date too).
    8. ``aggregate_customers``: the purchase metrics per customer, from the kept purchase lines.
    9. ``write_obt``: the matched reviews and logs aggregated per key, the customer metrics LEFT-joined, as
       Parquet; then each ``log_date``'s rows and digest, from the Parquet written.
    10. ``write_quarantine``: every source's rejected rows, concurrently (the records the layer did not keep, of
        rows rejected because of another date and of the join's orphans, read from their dates' layer texts only
        when the tallies count one). The last step that reads an input (a texts read is not one: the layer).
    11. ``confirm_inputs``: every input's state again, after its last read: an input that changed fails the build.
    12. ``mark_layers``: the marker of each date this build classified, after its files (in mirror mode uploaded
        first), unless an input changed; then ``verdict``: the input changes and data-quality problems that fail
        the build.
    13. ``write_manifest``: the manifest (with what was read of every input, and where each date's rows are), the
        build's last output.
    14. ``upload_outputs``, local mirror mode only: Parquet, then quarantine, then the manifest.
    15. ``announce``: the completion message, then the publication marker.

    A new file source takes every step but the OBT's own (6, 8, 9) through its ``sources.SOURCES`` entry alone.
    A step that derives OBT columns (say, a review score from the review texts) goes between 8 and 9: it takes the
    ``matched`` rows and returns them with its columns, for ``obt.build`` to aggregate into the columns
    ``obt_contract.schema`` declares. (The tagger's scores are derived in 5 instead, before a date's layer is written:
    they need the review texts, which nothing after 5 reads, and the layer keeps them with the rows.)
    """

    def __init__(self, spark: SparkSession, args: JobArgs) -> None:
        self.spark = spark
        self.args = args
        self.paths = PathMap(spark.conf.get(MIRROR_CONF, None) or None)
        root = self.root = args.output_root
        self.obt_prefix = f"{root}/{layout.build_prefix(args.build_id)}"
        self.manifest_uri = f"{root}/{layout.build_manifest_name(args.build_id)}"
        self.marker_uri = f"{root}/{layout.build_marker_name(args.build_id)}"
        self.quarantine_prefix = {s: f"{root}/{layout.quarantine_prefix(s, args.build_id)}" for s in ALL_SOURCES}
        # Where this attempt writes the layer files of the dates it classifies: a folder no other attempt writes.
        self.layer_folder = layout.layer_folder(args.build_id, layout.new_attempt_id())
        self.guard = InputGuard(input_uris(args), state_reader(self.paths))
        self._persisted: list[DataFrame] = []
        self.tagger: tagging.Tagger | None = None  # set by load_tagger
        self.dates: list[VendorDate] = []  # set by find_layers
        self.layers: dict[date, Layer] = {}  # the reused ones from find_layers, every date's after classify_sources
        self._layer_schema: dict[str, StructType] = {}  # a vendor source's layer rows, from classify_sources
        self._written: dict[str, dict[date, tuple[str, ...]]] = {}  # the layer files this build wrote, by source
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
            self.find_layers()
            classified = self.classify_sources()
            classified[JOIN] = self.join_reviews_and_logs(classified)
            counts = self.count_sources(classified)
            customers = self.aggregate_customers(classified)
            matched = _kept(classified[JOIN].rows)
            partitions = self.write_obt(matched, customers)
            self.write_quarantine(classified)
            changed = self.confirm_inputs()
            self.mark_layers(classified, changed)
            problems = self.verdict(snapshot, counts, changed)
            manifest = self.write_manifest(classified, counts, partitions, problems)
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
            log.info("tagger found", build_id=self.args.build_id, uri=tagger.uri, model_version=tagger.model_version)

    def find_layers(self) -> None:
        inputs = {s.name: s.uris(self.args) for s in VENDOR_SOURCES}
        self.dates = vendor_dates.group(inputs, self.guard.pinned, self.args.tagger_model)
        uris = [self._marker(d) for d in self.dates]
        wanted = [u for d, u in zip(self.dates, uris, strict=True) if d.day not in self.args.reclassify_dates]
        found = {} if self.args.full_rebuild else markers.find(self.spark, self.paths, wanted)
        for vendor_date, uri in zip(self.dates, uris, strict=True):
            marker = found.get(uri)
            if marker is None:
                continue
            files = vendor_dates.marker_files(vendor_date, marker.document, self.root)
            if files is None:
                log.warning("layer marker unusable: the date is classified again", marker=uri)
                continue
            self.layers[vendor_date.day] = Layer(uri, files, marker.generation, reused=True)
        markers.fetch(
            self.paths, [f for reused in self.layers.values() for names in reused.files.values() for f in names]
        )
        log.info(
            "vendor dates found",
            build_id=self.args.build_id,
            dates=len(self.dates),
            reused=len(self.layers),
            full_rebuild=self.args.full_rebuild,
            reclassified=[d.isoformat() for d in self.args.reclassify_dates],
        )

    def classify_sources(self) -> dict[str, Classified]:
        if self.tagger is not None and any(d.day not in self.layers and d.uris.get(MOVIE_REVIEW) for d in self.dates):
            # Now, while the cores are idle: loading the model runs a dozen small Spark jobs, which behind the
            # sources' long read tasks would wait for a free core and hold back the reviews (4-5 s, measured).
            started = time.monotonic()
            self.tagger.model  # noqa: B018 - loads it (a cached property)
            log.info("tagger model loaded", build_id=self.args.build_id, seconds=round(time.monotonic() - started, 2))
        tasks = {PURCHASES: self._classify_purchases} | {
            s.name: partial(self._classify_vendor, s) for s in VENDOR_SOURCES
        }
        classified = _concurrently(tasks)
        for d in self.dates:
            if d.day not in self.layers:
                files = {s.name: self._files(s, d.day) for s in VENDOR_SOURCES}
                self.layers[d.day] = Layer(self._marker(d), files, generation=None, reused=False)
        return classified

    def join_reviews_and_logs(self, classified: Mapping[str, Classified]) -> Classified:
        joined = obt_table.join_reviews_logs(_kept(classified[MOVIE_REVIEW].rows), _kept(classified[LOG_REVIEWS].rows))
        rows = self._keep(joined)
        # By date too: an orphan's record is read from its date's layer texts.
        return Classified(rows, _tally(rows, [F.col(vendor.DATE)]))

    def count_sources(self, classified: Mapping[str, Classified]) -> dict[str, dict[str, Any]]:
        counts = {name: mf.source_counts(name, mf.by_reason(c.tally)) for name, c in classified.items()}
        for source in VENDOR_SOURCES:
            tally = classified[source.name].tally
            counts[source.name]["by_date"] = mf.counts_by_date(source.name, tally, [d.day for d in self.dates])
        # Per date in the manifest only: a year of dates would make one log line of ~100 KB.
        totals = {name: {k: v for k, v in c.items() if k != "by_date"} for name, c in counts.items()}
        log.info("sources classified", build_id=self.args.build_id, sources=totals)
        return counts

    def aggregate_customers(self, classified: Mapping[str, Classified]) -> DataFrame:
        return purchases.customer_aggregate(_kept(classified[PURCHASES].rows))

    def write_obt(self, matched: DataFrame, customers: DataFrame) -> dict[str, Any]:
        """Writes the OBT's Parquet; returns its ``log_date`` partitions (rows, digest), from the Parquet written."""
        uri = self.paths.spark_uri(self.obt_prefix)
        obt_table.build(matched, customers).write.mode("overwrite").parquet(uri)
        written = self.spark.read.schema(obt_table.SCHEMA).parquet(uri)
        return mf.obt_partitions([row.asDict() for row in obt_table.partition_digests(written).collect()])

    def write_quarantine(self, classified: Mapping[str, Classified]) -> None:
        rejected = {name: c.rows.where(F.col("reason").isNotNull()) for name, c in classified.items()}
        for source in VENDOR_SOURCES:
            # Only the dates with a row rejected because of another date's rows: their texts are read again.
            days = _days(classified[source.name].tally, lambda row: row[NEEDS_TEXT] > 0)
            if days:
                texts = self._texts(source, days)
                rejected[source.name] = vendor.with_texts(rejected[source.name], texts, source.columns, source.ids)
        orphaned = {
            reason: _days(classified[JOIN].tally, lambda row, reason=reason: row["reason"] == reason)
            for reason in (REVIEW_WITHOUT_LOG, LOG_WITHOUT_REVIEW)
        }
        if any(orphaned.values()):
            # Only then, and only the dates with orphans: the orphans' texts come from their dates' layer files.
            rejected[JOIN] = obt_table.orphan_records(
                rejected[JOIN],
                self._texts(_VENDOR[MOVIE_REVIEW], orphaned[REVIEW_WITHOUT_LOG]),
                self._texts(_VENDOR[LOG_REVIEWS], orphaned[LOG_WITHOUT_REVIEW]),
            )
        _concurrently({name: partial(self._write_rejected, name, df) for name, df in rejected.items()})

    def confirm_inputs(self) -> list[str]:
        """A problem per input that changed since ``pin_inputs``: its reads may have mixed two versions."""
        changed = self.guard.changes()
        if changed:
            log.error("inputs changed while the build read them", build_id=self.args.build_id, problems=changed)
        return changed

    def mark_layers(self, classified: Mapping[str, Classified], changed: list[str]) -> None:
        """The marker of each date this build classified, once its files are all written (uploaded first in mirror
        mode): later builds read the date from them. None when an input changed while the build read it: a date's
        layer is then not known to be its inputs' (the build fails, and the next one classifies them again)."""
        new = [d for d in self.dates if not self.layers[d.day].reused]
        if not new or changed:
            return
        documents = {self._marker(d): self._marker_document(d, classified) for d in new}
        if self.paths.mirrored:
            files = [f for d in new for names in self.layers[d.day].files.values() for f in names]
            mirror.upload(self.paths, files, "layer files")
        generations = markers.write(self.spark, self.paths, documents)
        for d in new:
            self.layers[d.day] = dataclasses.replace(self.layers[d.day], generation=generations[self._marker(d)])
        log.info("vendor dates classified", build_id=self.args.build_id, dates=[d.day.isoformat() for d in new])

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
        partitions: Mapping[str, Any],
        problems: list[str],
    ) -> dict[str, Any]:
        manifest = mf.build(
            self.args,
            inputs=manifest_inputs(self.args, self.guard.record),
            sources=counts,
            vendor_dates={
                day.isoformat(): {"layer": rows.marker_uri, "generation": rows.generation, "reused": rows.reused}
                for day, rows in sorted(self.layers.items())
            },
            obt_prefix=self.obt_prefix,
            obt_files=self._names(self.obt_prefix),
            obt_partitions=partitions,
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
            obt_rows=manifest["obt"]["rows"],
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

    def _classify_purchases(self) -> Classified:
        uris = [self.paths.spark_uri(uri) for uri in PURCHASE_SOURCE.uris(self.args)]
        rows = self._keep(PURCHASE_SOURCE.classify(read_records(self.spark, uris, PURCHASE_SOURCE.columns)))
        return Classified(rows, _tally(rows, *PURCHASE_SOURCE.tally()))

    def _classify_vendor(self, source: VendorSource) -> Classified:
        """The dates without a layer classified per row and written as this build's layer files; then the rules
        across dates over the layer rows of every date, narrow columns only."""
        new = [uri for d in self.dates if d.day not in self.layers for uri in d.uris.get(source.name, ())]
        rows = self._layer_rows(source, new)
        self._layer_schema[source.name] = rows.schema
        self._written[source.name] = self._write_layer(source, rows) if new else {}
        files = [uri for d in self.dates for uri in self._files(source, d.day)]
        narrow = [c for c in rows.columns if c != vendor.DATE and c not in source.text_parts]
        layered = layer.read(self.spark, rows.schema, [self.paths.spark_uri(f) for f in files], narrow)
        classified = self._keep(source.apply_rules(layered))
        return Classified(classified, _tally(classified, *source.counted()))

    def _layer_rows(self, source: VendorSource, uris: Sequence[str]) -> DataFrame:
        """The layer rows of the vendor files at ``uris`` (of any dates), each row dated by its file's name."""
        if uris:
            records = read_records(self.spark, [self.paths.spark_uri(uri) for uri in uris], source.columns)
            dated = records.withColumn(vendor.DATE, layer.date_of_file())
        else:  # every date has its layer: only the rows' schema is needed
            strings = [StructField(c, StringType()) for c in (*source.columns, CORRUPT)]
            dated = self.spark.createDataFrame([], StructType([*strings, StructField(vendor.DATE, DateType())]))
        rows = source.classify_rows(dated, self.spark.sparkContext.defaultParallelism)
        if source.name == MOVIE_REVIEW:
            # Before the layer, which keeps the scores with the rows and leaves the model out of every later read.
            rows = tagging.score(self.tagger, rows, empty=not uris)
        return source.layer_rows(rows)

    def _write_layer(self, source: VendorSource, rows: DataFrame) -> dict[date, tuple[str, ...]]:
        """Writes the layer rows of every date this build classifies; returns the file URIs by date."""
        folder = f"{self.root}/{self.layer_folder}{source.name}/"
        layer.write(rows, self.paths.spark_uri(folder))
        return layer.files_by_date(folder, fs.list_files(self.spark, self.paths.spark_uri(folder), ".parquet"))

    def _files(self, source: VendorSource, day: date) -> tuple[str, ...]:
        """The layer files of ``source`` on ``day``: an earlier build's, or this one's."""
        if day in self.layers:
            return self.layers[day].files.get(source.name, ())
        return self._written[source.name].get(day, ())

    def _texts(self, source: VendorSource, days: Collection[date]) -> DataFrame:
        """The layer rows of ``source`` on ``days`` with the parts of their quarantine records."""
        files = [self.paths.spark_uri(f) for d in sorted(days) for f in self._files(source, d)]
        columns = [*source.ids.values(), "reason", "raw", *source.text_parts]
        return layer.read(self.spark, self._layer_schema[source.name], files, columns)

    def _marker(self, vendor_date: VendorDate) -> str:
        return f"{self.root}/{vendor_date.marker_name}"

    def _marker_document(self, vendor_date: VendorDate, classified: Mapping[str, Classified]) -> dict[str, Any]:
        folder = f"{self.root}/{self.layer_folder}"
        found = self.layers[vendor_date.day]
        return vendor_dates.marker_document(
            vendor_date,
            build_id=self.args.build_id,
            folder=self.layer_folder,
            files={name: [f.removeprefix(folder) for f in names] for name, names in found.files.items()},
            inputs={
                s.arg: [self.guard.record(uri) for uri in vendor_date.uris.get(s.name, ())] for s in VENDOR_SOURCES
            },
            counts={
                s.name: mf.layer_counts(classified[s.name].tally, vendor_date.day, s.row_rule) for s in VENDOR_SOURCES
            },
            tagger_model=self.args.tagger_model,
            created_at=_utc_now(),
        )

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
