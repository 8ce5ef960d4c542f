"""The build, start to finish: read, classify, write Parquet and quarantine, manifest last, publish, mark.

A crash at any point before the manifest leaves no manifest (``obt reconcile`` then reports the build).
The output directory is overwritten first, so a rerun of the same build never mixes two attempts.
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

from obt_job import fs, logs, mirror, publish, purchases, reviews, vendor
from obt_job import manifest as mf
from obt_job import obt as obt_table
from obt_job.args import JobArgs, parse_args
from obt_job.csv_input import read_records
from obt_job.log import get_logger
from obt_job.paths import MIRROR_CONF, PathMap

log = get_logger("obt_job")

QUARANTINE_COLUMNS = ("reason", "raw", "detail")
MANIFEST_NAME = "_MANIFEST.json"
MARKER_NAME = "_PUBLISHED.json"


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


# A tally's extra grouping columns and named sums.
TallySpec = tuple[list[Column], dict[str, Column]]


def _tally_specs() -> dict[str, TallySpec]:
    """What each source's count query adds for ``manifest.metrics`` (which reads its kept rows only)."""
    unknown = F.when(F.col("reason").isNull() & F.col("unknown_location"), F.col("location"))
    return {
        mf.PURCHASES: ([], {"customers": F.countDistinct("customer_id"), "amount": F.sum(purchases.amount())}),
        mf.MOVIE_REVIEW: ([], {"positive": F.sum("positive_review")}),
        mf.LOG_REVIEWS: ([unknown.alias("unknown_location")], {}),
    }


# Left out of the build's cache: only an orphan's quarantine record needs them, and ``obt.orphan_records``
# reads those from the uncached source when there is an orphan. Caching review texts cost more than the
# rules that read them.
UNCACHED_TEXT = {
    mf.MOVIE_REVIEW: vendor.text_columns(reviews.COLUMNS, reviews.IDS),
    mf.LOG_REVIEWS: vendor.text_columns(logs.COLUMNS, logs.IDS),
}


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
    """One build's locations and steps; ``run`` returns the manifest it wrote."""

    def __init__(self, spark: SparkSession, args: JobArgs) -> None:
        self.spark = spark
        self.args = args
        self.paths = PathMap(spark.conf.get(MIRROR_CONF, None) or None)
        root = args.output_root
        self.obt_prefix = f"{root}/obt/build_id={args.build_id}/"
        self.manifest_uri = self.obt_prefix + MANIFEST_NAME
        self.marker_uri = self.obt_prefix + MARKER_NAME
        self.quarantine_prefix = {s: f"{root}/quarantine/{s}/build_id={args.build_id}/" for s in mf.REASONS}
        self._persisted: list[DataFrame] = []

    def _keep(self, df: DataFrame) -> DataFrame:
        self._persisted.append(df.persist(StorageLevel.MEMORY_AND_DISK))
        return self._persisted[-1]

    def _classify(
        self,
        name: str,
        classify: Callable[[DataFrame], DataFrame],
        uris: Sequence[str],
        columns: Sequence[str],
        spec: TallySpec,
    ) -> Classified:
        source = classify(read_records(self.spark, [self.paths.spark_uri(u) for u in uris], columns))
        rows = self._keep(source.drop(*UNCACHED_TEXT.get(name, ())))
        return Classified(source, rows, _tally(rows, *spec))

    def _write_quarantine(self, source: str, rejected: DataFrame) -> None:
        rejected = rejected.select(*QUARANTINE_COLUMNS)
        rejected.coalesce(1).write.mode("overwrite").parquet(self.paths.spark_uri(self.quarantine_prefix[source]))

    def _names(self, prefix: str) -> list[str]:
        return fs.list_names(self.spark, self.paths.spark_uri(prefix), "part-", ".parquet")

    def run(self) -> dict[str, Any]:
        args = self.args
        started = time.monotonic()
        log.info("build started", build_id=args.build_id, mirror=self.paths.mirror_dir, inputs=len(args.purchases))
        snapshot = json.loads(fs.read_text(self.spark, self.paths.spark_uri(args.purchases_manifest)))

        readers = {
            mf.PURCHASES: (purchases.classify, args.purchases, purchases.COLUMNS),
            mf.MOVIE_REVIEW: (reviews.classify, args.movie_reviews, reviews.COLUMNS),
            mf.LOG_REVIEWS: (logs.classify, args.log_reviews, logs.COLUMNS),
        }
        specs = _tally_specs()
        results = _concurrently(
            {name: partial(self._classify, name, *reader, specs[name]) for name, reader in readers.items()}
        )
        rows = {name: result.rows for name, result in results.items()}
        tallies = {name: result.tally for name, result in results.items()}
        joined = obt_table.join_reviews_logs(_kept(rows[mf.MOVIE_REVIEW]), _kept(rows[mf.LOG_REVIEWS]))
        rows[mf.JOIN] = self._keep(joined)
        tallies[mf.JOIN] = _tally(rows[mf.JOIN])
        sources = {name: mf.source_counts(name, mf.by_reason(tally)) for name, tally in tallies.items()}
        log.info("sources classified", build_id=args.build_id, sources=sources)

        customers = purchases.customer_aggregate(_kept(rows[mf.PURCHASES]))
        written = Observation()
        obt = obt_table.build(_kept(rows[mf.JOIN]), customers)
        obt.observe(written, F.count(F.lit(1)).alias("rows")).write.mode("overwrite").parquet(
            self.paths.spark_uri(self.obt_prefix)
        )
        obt_rows = int(written.get["rows"])
        rejected = {name: df.where(F.col("reason").isNotNull()) for name, df in rows.items()}
        if sources[mf.JOIN]["kept"] < sources[mf.JOIN]["read"]:
            # Only then: the orphans' texts come from the uncached vendor sources, which are read again.
            rejected[mf.JOIN] = obt_table.orphan_records(
                rejected[mf.JOIN], _kept(results[mf.MOVIE_REVIEW].source), _kept(results[mf.LOG_REVIEWS].source)
            )
        _concurrently({name: partial(self._write_quarantine, name, df) for name, df in rejected.items()})
        obt_files = self._names(self.obt_prefix)

        problems = mf.snapshot_problems(snapshot, sources[mf.PURCHASES]["read"])
        problems += mf.quality_problems(sources, args.max_quarantine_share)
        manifest = mf.build(
            args,
            sources=sources,
            obt_prefix=self.obt_prefix,
            obt_files=obt_files,
            obt_rows=obt_rows,
            metrics=mf.metrics(tallies),
            problems=problems,
            created_at=_utc_now(),
        )
        fs.write_text(self.spark, self.paths.spark_uri(self.manifest_uri), json.dumps(manifest, indent=2))
        log.info(
            "manifest written",
            build_id=args.build_id,
            status=manifest["status"],
            reason=manifest["reason"],
            obt_rows=obt_rows,
            manifest_uri=self.manifest_uri,
            seconds=round(time.monotonic() - started, 1),
        )
        if self.paths.mirrored:
            self._upload_outputs(obt_files)
        self._announce(manifest)
        for df in self._persisted:
            df.unpersist()
        return manifest

    def _upload_outputs(self, obt_files: list[str]) -> None:
        mirror.upload(self.paths, [self.obt_prefix + name for name in obt_files], "obt parquet")
        quarantine = [prefix + name for prefix in self.quarantine_prefix.values() for name in self._names(prefix)]
        mirror.upload(self.paths, quarantine, "quarantine parquet")
        mirror.upload(self.paths, [self.manifest_uri], "manifest")

    def _announce(self, manifest: Mapping[str, Any]) -> None:
        message = mf.completion_message(manifest, self.manifest_uri)
        attributes = {"build_id": self.args.build_id, "status": str(manifest["status"])}
        message_id = publish.publish(self.args.topic, message, attributes)
        marker = {"message_id": message_id, "published_at": _utc_now(), "status": manifest["status"]}
        fs.write_text(self.spark, self.paths.spark_uri(self.marker_uri), json.dumps(marker))
        if self.paths.mirrored:
            mirror.upload(self.paths, [self.marker_uri], "publication marker")
        log.info("build announced", build_id=self.args.build_id, message_id=message_id, marker=self.marker_uri)


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
