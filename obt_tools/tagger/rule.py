"""The seed's rule, the baseline the model must beat: ``positive_review = 1`` when the tokens contain ``good``.

Written on the model's own token expression (``pipeline.tokens_sql``), which is the rules' tokenisation, so the
two are compared on the same tokens. The job has a faster equivalent (``obt_job.reviews.positive_review``).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

from obt_tools.tagger.pipeline import tokens_sql

RULE_NAME = "tokens contain 'good'"


def good_rule(text_column: str) -> Column:
    """1.0 when the rules' tokens of ``text_column`` contain ``good``, else 0.0 (a double, like ``prediction``)."""
    return F.array_contains(F.expr(tokens_sql(text_column)), "good").cast("double")
