"""The real labelled reviews: 5-fold cross-validation by distinct text reaches the target; the rule's figures match.

~30-40 s on a shared 2-core machine in the test session (one fit per fold, two at a time). Skipped when
``../shared/data`` is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from obt_tools.tagger.crossval import RULE_COLUMN, cross_validate, labelled_frame
from obt_tools.tagger.folds import assign_folds
from obt_tools.tagger.labels import read_labels
from obt_tools.tagger.metrics import mean, measure
from obt_tools.tagger.pipeline import INPUT_COLUMN, TaggerParams
from obt_tools.tagger.rule import good_rule

LABELS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "imdb_reviews_labeled.csv.gz"
TARGET_ACCURACY = 0.85


@pytest.mark.slow
@pytest.mark.realdata
def test_real_labels_cross_validate_above_target(spark) -> None:
    if not LABELS.is_file():
        pytest.skip(f"{LABELS} is absent")
    data = read_labels(LABELS)
    assert (data.rows, data.distinct_texts) == (3179, 3179)
    frame = labelled_frame(spark, data, assign_folds(data, 5))
    model = mean([r.model for r in cross_validate(frame, 5, TaggerParams(), parallelism=2)])
    assert model.accuracy >= TARGET_ACCURACY, model
    assert model.roc_auc >= 0.9, model
    # The issue's figures for the rule on the whole file: accuracy 0.478, precision 0.474, recall 0.355.
    rule = measure(frame.withColumn(RULE_COLUMN, good_rule(INPUT_COLUMN)), RULE_COLUMN, RULE_COLUMN)
    assert rule.rows == 3179
    for got, issue in ((rule.accuracy, 0.478), (rule.precision, 0.474), (rule.recall, 0.355)):
        assert abs(got - issue) < 0.0006, rule
