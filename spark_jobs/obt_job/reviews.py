"""Movie reviews ``cid,review_str,id_review``: the vendor rules (``vendor``), and ``positive_review`` per row."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

COLUMNS = ("cid", "review_str", "id_review")
IDS = {"cid": "customer_id", "id_review": "review_id"}


# A ``good`` token: the letters with no [a-z0-9] on either side (the literal comes first, so the regex
# engine scans for it instead of trying every position).
_GOOD = "good(?![a-z0-9])(?<![a-z0-9]good)"


def positive_review(text: Column) -> Column:
    """1 when the tokens contain ``good``: lower-case, HTML tags become a space, split on runs outside [a-z0-9].

    Replacing a tag by a space can hide a ``good`` (one inside a tag) but never make one (a ``good`` glued to
    a tag's letter is inside that tag), so the replacement only runs on texts that hold the token before it.
    Stop-word removal is not applied: ``good`` is not a stop word, so it cannot change the result.
    """
    lowered = F.lower(text)
    without_tags = F.regexp_replace(lowered, "<[^>]*>", " ")
    return F.when(lowered.rlike(_GOOD), without_tags.rlike(_GOOD).cast("int")).otherwise(F.lit(0))


def row_fields(rows: DataFrame) -> DataFrame:
    """``vendor.classify_rows``' rows with ``positive_review``, from the trimmed text."""
    return rows.withColumn("positive_review", positive_review(F.col("review_str")))
