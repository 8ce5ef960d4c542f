"""Training (cross-validate, fit on every row, save the model and its card) and evaluating a saved model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from py4j.protocol import Py4JError, Py4JJavaError
from pyspark.errors import PySparkException
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from obt.errors import UserError
from obt_tools.tagger import storage
from obt_tools.tagger.card import build_card, card_uri, dumps
from obt_tools.tagger.crossval import RULE_COLUMN, cross_validate, labelled_frame
from obt_tools.tagger.folds import SEED, assign_folds
from obt_tools.tagger.labels import LabelledReviews
from obt_tools.tagger.metrics import LABEL_COLUMN, Metrics, measure
from obt_tools.tagger.pipeline import INPUT_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, TaggerParams, build_pipeline
from obt_tools.tagger.rule import good_rule


@dataclass(frozen=True)
class Evaluation:
    model: Metrics
    rule: Metrics
    card: dict[str, Any] | None


def train(
    spark: SparkSession,
    data: LabelledReviews,
    out: str,
    folds: int = 5,
    params: TaggerParams | None = None,
    seed: int = SEED,
) -> dict[str, Any]:
    """Cross-validate, fit on every labelled row, save the model to ``out`` and its card beside it; the card."""
    params = params or TaggerParams()
    fold_of = assign_folds(data, folds, seed)
    # Before the minutes of fitting: a target that cannot be overwritten fails now.
    with _spark_errors(f"cannot use --out {out}"):
        storage.check_model_target(spark, out)
    frame = labelled_frame(spark, data, fold_of)
    # The fit on every row needs nothing from the folds: beside them it fills the core that the folds' last round
    # (5 folds, 2 at a time) leaves idle.
    with ThreadPoolExecutor(max_workers=1) as pool:
        fitted = pool.submit(build_pipeline(params).fit, frame)
        results = cross_validate(frame, folds, params, parallelism=spark.sparkContext.defaultParallelism)
        rule_all_rows = measure(frame.withColumn(RULE_COLUMN, good_rule(INPUT_COLUMN)), RULE_COLUMN, RULE_COLUMN)
        model = fitted.result()
    card = build_card(data, params, folds, seed, results, rule_all_rows, spark.version)
    with _spark_errors(f"cannot save the model to {out}"):
        model.write().overwrite().save(out)
        storage.write_text(spark, card_uri(out), dumps(card))
    return card


def evaluate(spark: SparkSession, model_uri: str, data: LabelledReviews) -> Evaluation:
    """The saved model's figures (and the rule's) on every row of ``data``."""
    with _spark_errors(f"cannot load a tagger model from {model_uri}"):
        model = PipelineModel.load(model_uri)
        scored = model.transform(labelled_frame(spark, data)).select(
            LABEL_COLUMN, PREDICTION_COLUMN, PROBABILITY_COLUMN, good_rule(INPUT_COLUMN).alias(RULE_COLUMN)
        )
        scored = scored.cache()
        figures = measure(scored, PREDICTION_COLUMN, PROBABILITY_COLUMN)
    rule = measure(scored, RULE_COLUMN, RULE_COLUMN)
    scored.unpersist()
    return Evaluation(figures, rule, _read_card(spark, model_uri))


def _read_card(spark: SparkSession, model_uri: str) -> dict[str, Any] | None:
    text = storage.read_text(spark, card_uri(model_uri))
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"the model card {card_uri(model_uri)} is not JSON: {exc}") from None


@contextmanager
def _spark_errors(what: str) -> Iterator[None]:
    """Spark's and the JVM's errors here are about the user's paths or model: one line, not a Java stack."""
    try:
        yield
    except (PySparkException, Py4JError) as exc:
        raise UserError(f"{what}: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    # A raw Py4JJavaError's own text starts "An error occurred while calling o42.load": the Java exception says more.
    text = str(exc.java_exception if isinstance(exc, Py4JJavaError) else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
