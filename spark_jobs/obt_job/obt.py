"""Reviews joined to logs 1:1, then the OBT: one row per key, customer metrics LEFT-joined after aggregation."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from obt_job.csv_input import csv_text

KEY = ("customer_id", "log_date", "device", "location", "os", "browser")
# The contract's 14 columns, in order, with their types.
OBT_SCHEMA = (
    ("customer_id", "bigint"),
    ("log_date", "date"),
    ("season", "string"),
    ("device", "string"),
    ("location", "string"),
    ("region", "string"),
    ("os", "string"),
    ("browser", "string"),
    ("review_count", "bigint"),
    ("review_score", "bigint"),
    ("amount_spent", "decimal(38,9)"),
    ("count_invoices", "bigint"),
    ("first_invoice_date", "date"),
    ("last_invoice_date", "date"),
)
LOG_FIELDS = ("log_date", "device", "location", "os", "browser", "region", "season")


def join_reviews_logs(reviews: DataFrame, logs: DataFrame) -> DataFrame:
    """Full outer join of kept reviews and kept logs on review id (both unique after the vendor rules).

    Each side's orphans get a ``review_log_join`` reason so that nothing is silently dropped. The join
    itself moves only narrow columns; the texts an orphan's record needs are fetched for the orphans'
    ids alone (a broadcast), so the review texts never travel through a shuffle.
    """
    r = reviews.select("review_id", "customer_id", "positive_review")
    lg = logs.select(F.col("review_id").alias("_log_id"), *LOG_FIELDS)
    joined = r.join(lg, r["review_id"] == lg["_log_id"], "full_outer")
    no_log = F.col("_log_id").isNull()
    no_review = F.col("review_id").isNull()
    matched = joined.where(~no_log & ~no_review).select(
        "review_id",
        "customer_id",
        "positive_review",
        *LOG_FIELDS,
        *[F.lit(None).cast("string").alias(c) for c in ("reason", "raw", "detail")],
    )
    review_ids = F.broadcast(joined.where(no_log).select("review_id"))
    without_log = reviews.join(review_ids, "review_id", "left_semi").select(
        "review_id",
        "customer_id",
        "positive_review",
        *[F.lit(None).alias(c) for c in LOG_FIELDS],
        F.lit("review_without_log").alias("reason"),
        # An orphan's record re-encoded from its kept fields (text trimmed), as in the vendor file.
        csv_text([F.col("customer_id"), F.col("review_str"), F.col("review_id")]).alias("raw"),
        F.concat(F.lit("no log for review id "), F.col("review_id").cast("string")).alias("detail"),
    )
    log_ids = F.broadcast(joined.where(no_review).select(F.col("_log_id").alias("review_id")))
    without_review = logs.join(log_ids, "review_id", "left_semi").select(
        "review_id",
        F.lit(None).cast("bigint").alias("customer_id"),
        F.lit(None).cast("int").alias("positive_review"),
        *LOG_FIELDS,
        F.lit("log_without_review").alias("reason"),
        csv_text([F.col("review_id"), F.col("log")]).alias("raw"),
        F.concat(F.lit("no review for log id "), F.col("review_id").cast("string")).alias("detail"),
    )
    return matched.unionByName(without_log).unionByName(without_review)


def build(matched: DataFrame, customers: DataFrame) -> DataFrame:
    """One row per OBT key. ``season`` depends on ``log_date`` and ``region`` on ``location`` only."""
    per_key = matched.groupBy(*KEY, "season", "region").agg(
        F.countDistinct("review_id").alias("review_count"),
        F.sum("positive_review").alias("review_score"),
    )
    joined = per_key.join(customers, on="customer_id", how="left")
    return joined.select(*[F.col(name).cast(kind).alias(name) for name, kind in OBT_SCHEMA])
