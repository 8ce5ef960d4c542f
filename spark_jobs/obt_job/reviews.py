"""Movie reviews ``cid,review_str,id_review``: vendor rules, then ``positive_review``."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from obt_job import vendor

COLUMNS = ("cid", "review_str", "id_review")
IDS = {"cid": "customer_id", "id_review": "review_id"}


def positive_review(text: Column) -> Column:
    """1 when the tokens contain ``good``: lower-case, HTML tags become a space, split on runs outside [a-z0-9].

    Stop-word removal is not applied: ``good`` is not a stop word, so it cannot change the result.
    """
    tokens = F.split(F.regexp_replace(F.lower(text), "<[^>]*>", " "), "[^a-z0-9]+")
    return F.coalesce(F.array_contains(tokens, "good"), F.lit(False)).cast("int")


def classify(df: DataFrame) -> DataFrame:
    classified = vendor.classify(df, COLUMNS, IDS, key="review_id")
    return classified.select(
        "review_id",
        "customer_id",
        "review_str",
        "reason",
        "detail",
        F.when(F.col("reason").isNotNull(), vendor.raw_record(COLUMNS, IDS)).alias("raw"),
        positive_review(F.col("review_str")).alias("positive_review"),
    )
