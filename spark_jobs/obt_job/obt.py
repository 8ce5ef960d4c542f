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

    Each side's orphans get a ``review_log_join`` reason so that nothing is silently dropped.
    """
    r = reviews.select("review_id", "customer_id", "positive_review", "review_str")
    lg = logs.select(F.col("review_id").alias("_log_id"), *LOG_FIELDS, "log")
    joined = r.join(lg, r["review_id"] == lg["_log_id"], "full_outer")
    no_log = F.col("_log_id").isNull()
    no_review = F.col("review_id").isNull()
    return joined.select(
        F.coalesce(F.col("review_id"), F.col("_log_id")).alias("review_id"),
        "customer_id",
        "positive_review",
        *LOG_FIELDS,
        F.when(no_log, F.lit("review_without_log")).when(no_review, F.lit("log_without_review")).alias("reason"),
        # An orphan's record re-encoded from its kept fields (text trimmed), as in the vendor file.
        F.when(no_log, csv_text([F.col("customer_id"), F.col("review_str"), F.col("review_id")]))
        .when(no_review, csv_text([F.col("_log_id"), F.col("log")]))
        .alias("raw"),
        F.when(no_log, F.concat(F.lit("no log for review id "), F.col("review_id").cast("string")))
        .when(no_review, F.concat(F.lit("no review for log id "), F.col("_log_id").cast("string")))
        .alias("detail"),
    )


def build(matched: DataFrame, customers: DataFrame) -> DataFrame:
    """One row per OBT key. ``season`` depends on ``log_date`` and ``region`` on ``location`` only."""
    per_key = matched.groupBy(*KEY, "season", "region").agg(
        F.countDistinct("review_id").alias("review_count"),
        F.sum("positive_review").alias("review_score"),
    )
    joined = per_key.join(customers, on="customer_id", how="left")
    return joined.select(*[F.col(name).cast(kind).alias(name) for name, kind in OBT_SCHEMA])
