"""k-fold cross-validation of the pipeline by distinct text, and of the rule on the same test folds.

Each fold fits a fresh pipeline (vocabulary and IDF included) on the other folds only, so no word statistics leak
from the test texts. Training tunes nothing on these folds: the parameters are fixed in ``TaggerParams`` (how they
were chosen: ``obt_tools.tagger.pipeline``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from obt_tools.tagger.labels import LabelledReviews
from obt_tools.tagger.metrics import LABEL_COLUMN, Metrics, measure
from obt_tools.tagger.pipeline import INPUT_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, TaggerParams, build_pipeline
from obt_tools.tagger.rule import good_rule

FOLD_COLUMN = "fold"
RULE_COLUMN = "rule_prediction"


@dataclass(frozen=True)
class FoldResult:
    fold: int
    train_rows: int
    model: Metrics
    rule: Metrics


def labelled_frame(spark: SparkSession, data: LabelledReviews, fold_of: Sequence[int] | None = None) -> DataFrame:
    """``review_str, label`` (and ``fold`` when ``fold_of`` is given), in one partition, materialised.

    The labelled set is a few MB. In one partition each L-BFGS pass is one task instead of a tree aggregation over
    several (fits took half the time). The local checkpoint cuts the lineage back to the driver's list: a task over
    a parallelised list carries its slice of the data, so every pass shipped all 4 MB of texts again (757
    oversized tasks in one 5-fold run on the real file), even with the frame cached.
    """
    if fold_of is None:
        rows: list[tuple] = list(zip(data.texts, data.labels, strict=True))
        schema = f"{INPUT_COLUMN} string, {LABEL_COLUMN} double"
    else:
        rows = list(zip(data.texts, data.labels, fold_of, strict=True))
        schema = f"{INPUT_COLUMN} string, {LABEL_COLUMN} double, {FOLD_COLUMN} int"
    return spark.createDataFrame(rows, schema).coalesce(1).localCheckpoint(eager=True)


def cross_validate(frame: DataFrame, folds: int, params: TaggerParams, parallelism: int = 1) -> list[FoldResult]:
    """One result per fold of ``frame`` (as made by ``labelled_frame``), in fold order.

    Folds are fitted ``parallelism`` at a time (as ``CrossValidator``'s ``parallelism`` does): each fit is a
    chain of one-task jobs over one partition, so one fit alone leaves the other cores idle.
    """
    with ThreadPoolExecutor(max_workers=max(1, parallelism)) as pool:
        return list(pool.map(lambda fold: _fold(frame, fold, params), range(folds)))


def _fold(frame: DataFrame, fold: int, params: TaggerParams) -> FoldResult:
    train = frame.where(F.col(FOLD_COLUMN) != fold)
    test = frame.where(F.col(FOLD_COLUMN) == fold)
    model = build_pipeline(params).fit(train)
    scored = model.transform(test).select(
        LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, good_rule(INPUT_COLUMN).alias(RULE_COLUMN)
    )
    # Several small queries read the scored fold: score it once.
    scored = scored.cache()
    try:
        return FoldResult(
            fold=fold,
            train_rows=train.count(),
            model=measure(scored, PREDICTION_COLUMN, PROBABILITY_COLUMN),
            rule=measure(scored, RULE_COLUMN, RULE_COLUMN),
        )
    finally:
        scored.unpersist()
