"""Reviews joined to logs 1:1, then the OBT: one row per key, customer metrics LEFT-joined after aggregation.

The OBT's columns, their types and its key are the contract's (``obt_contract.schema``), and so is the digest of
each ``log_date`` partition that the manifest records (``partition_digests``).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from obt_contract.schema import DATA_COLUMNS, PARTITION_COLUMN
from obt_contract.schema import KEY as OBT_KEY
from obt_contract.sources import LOG_WITHOUT_REVIEW, REVIEW_WITHOUT_LOG
from obt_job import logs, reviews, tagging, vendor
from obt_job.vendor import DATE, KEY

# What the join carries of a review: its key and customer, and its scores (the rule's and the tagger's).
REVIEW_FIELDS = (KEY, "customer_id", "positive_review", tagging.PREDICTED_POSITIVE, tagging.SENTIMENT_SCORE)
# What the join carries of a log: the OBT's log dimensions.
LOG_FIELDS = ("log_date", "device", "location", "os", "browser", "region", "season")


def join_reviews_logs(review_rows: DataFrame, log_rows: DataFrame) -> DataFrame:
    """Full outer join of kept reviews and kept logs on review id (both unique after the vendor rules), whatever
    ingest dates they came on.

    Each side's orphans get a ``review_log_join`` reason and ``detail`` so that nothing is silently dropped, and
    their own ingest date (``ingest_date``; a matched row has its review's). The join moves narrow columns only, no
    text, so ``raw`` is NULL here: ``orphan_records`` fills it.
    """
    r = review_rows.select(*REVIEW_FIELDS, DATE)
    lg = log_rows.select(F.col(KEY).alias("_log_id"), F.col(DATE).alias("_log_ingest_date"), *LOG_FIELDS)
    joined = r.join(lg, r[KEY] == lg["_log_id"], "full_outer")
    no_log = F.col("_log_id").isNull()
    no_review = F.col(KEY).isNull()
    review_id = F.coalesce(F.col(KEY), F.col("_log_id"))
    return joined.select(
        review_id.alias(KEY),
        *REVIEW_FIELDS[1:],
        *LOG_FIELDS,
        F.coalesce(F.col(DATE), F.col("_log_ingest_date")).alias(DATE),
        F.when(no_log, F.lit(REVIEW_WITHOUT_LOG)).when(no_review, F.lit(LOG_WITHOUT_REVIEW)).alias("reason"),
        F.lit(None).cast("string").alias("raw"),
        F.when(no_log, F.concat(F.lit("no log for review id "), review_id.cast("string")))
        .when(no_review, F.concat(F.lit("no review for log id "), review_id.cast("string")))
        .alias("detail"),
    )


def orphan_records(orphans: DataFrame, review_texts: DataFrame, log_texts: DataFrame) -> DataFrame:
    """The join's rejected rows with ``raw``: each orphan's record re-encoded from its kept fields (text trimmed),
    as in the vendor file. ``review_texts`` and ``log_texts`` are layer rows with their text parts
    (``vendor.kept_texts``), of the dates the orphans came on only: the build calls this when there are orphans.
    """
    review_raw = vendor.kept_texts(review_texts, reviews.COLUMNS, reviews.IDS)
    log_raw = vendor.kept_texts(log_texts, logs.COLUMNS, logs.IDS)
    orphans = orphans.drop("raw")
    # LEFT joins: an orphan stays in quarantine even if its date's layer no longer holds its text.
    without_log = orphans.where(F.col("reason") == REVIEW_WITHOUT_LOG).join(review_raw, [DATE, KEY], "left")
    without_review = orphans.where(F.col("reason") == LOG_WITHOUT_REVIEW).join(log_raw, [DATE, KEY], "left")
    return without_log.unionByName(without_review)


def build(matched: DataFrame, customers: DataFrame) -> DataFrame:
    """One row per OBT key. ``season`` depends on ``log_date`` and ``region`` on ``location`` only.

    The tagger's columns: how many of the key's reviews it calls positive, and their mean P(positive); NULL when
    no review was scored (SUM and AVG skip NULLs, and a build without a model scores none).
    """
    # review_count is COUNT(DISTINCT review_id) in the rules; a plain count is the same here, since the join
    # matches reviews and logs 1:1 and the vendor rules leave one row per review id on each side. (A distinct
    # count would aggregate twice: ~20% of the OBT step at 10x.)
    per_key = matched.groupBy(*OBT_KEY, "season", "region").agg(
        F.count("review_id").alias("review_count"),
        F.sum("positive_review").alias("review_score"),
        F.sum(tagging.PREDICTED_POSITIVE).alias("predicted_positive"),
        F.avg(tagging.SENTIMENT_SCORE).alias("sentiment_score"),
    )
    joined = per_key.join(customers, on="customer_id", how="left")
    return joined.select(*[F.col(c.name).cast(c.spark_type).alias(c.name) for c in DATA_COLUMNS])


# The OBT's Parquet as the contract types it: read back without opening a file to learn it (a build may have none).
SCHEMA = ", ".join(f"{c.name} {c.spark_type}" for c in DATA_COLUMNS)


def partition_digests(table: DataFrame) -> DataFrame:
    """Per ``log_date`` of the OBT: its ``rows`` and ``digest``, the XOR of every row's 64-bit xxhash of the 16 data
    columns in contract order. XOR is order-free and cannot overflow (a sum of hashes would, under ANSI mode), so
    the same rows give the same digest whatever files and tasks hold them."""
    row_hash = F.xxhash64(*[F.col(c.name) for c in DATA_COLUMNS])
    return table.groupBy(PARTITION_COLUMN).agg(F.count(F.lit(1)).alias("rows"), F.bit_xor(row_hash).alias("digest"))
