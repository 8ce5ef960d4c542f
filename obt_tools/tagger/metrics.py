"""Accuracy, precision, recall, F1 and ROC AUC of 0/1 predictions against ``label`` (1.0 = positive).

Precision and recall are those of the positive class. A ratio with nothing to count (no predicted positive, say)
is 0.0, so a degenerate model reads as bad rather than breaking the report. ROC AUC comes from Spark's
``BinaryClassificationEvaluator`` on a score column: ``probability`` (it reads element 1, P(positive)) for the
model, the 0/1 prediction itself for the rule (whose AUC is then its balanced accuracy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

LABEL_COLUMN = "label"
METRIC_NAMES = ("accuracy", "precision", "recall", "f1", "roc_auc")


@dataclass(frozen=True)
class Metrics:
    rows: int
    accuracy: float
    precision: float
    recall: float
    f1: float
    roc_auc: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def measure(predictions: DataFrame, prediction_column: str, score_column: str) -> Metrics:
    """The figures of ``prediction_column`` (0.0/1.0) and ``score_column`` against ``label``."""
    # Imported here: the CLI formats ``Metrics`` without loading pyspark (an optional dependency of ``obt``).
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.sql import functions as F

    label, predicted = F.col(LABEL_COLUMN) == 1.0, F.col(prediction_column) == 1.0
    counts = predictions.agg(
        F.count(F.lit(1)).alias("rows"),
        F.count(F.when(label & predicted, 1)).alias("tp"),
        F.count(F.when(~label & predicted, 1)).alias("fp"),
        F.count(F.when(label & ~predicted, 1)).alias("fn"),
    ).first()
    rows, tp, fp, fn = counts["rows"], counts["tp"], counts["fp"], counts["fn"]
    tn = rows - tp - fp - fn
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    auc = BinaryClassificationEvaluator(
        rawPredictionCol=score_column, labelCol=LABEL_COLUMN, metricName="areaUnderROC"
    ).evaluate(predictions)
    return Metrics(
        rows=rows,
        accuracy=_ratio(tp + tn, rows),
        precision=precision,
        recall=recall,
        f1=_ratio(2 * precision * recall, precision + recall),
        roc_auc=float(auc),
    )


def mean(folds: Sequence[Metrics]) -> Metrics:
    """The unweighted mean over folds (the usual k-fold figure; folds differ in size by at most one text)."""
    n = len(folds)
    figures = {name: sum(getattr(m, name) for m in folds) / n for name in METRIC_NAMES}
    return Metrics(rows=sum(m.rows for m in folds), **figures)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0
