"""Training end to end on the small sample: folds, saved model, model card, evaluation, and the target check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from obt.errors import UserError
from obt_tools.tagger import card as card_module
from obt_tools.tagger.card import CARD_FIELDS, CARD_NAME
from obt_tools.tagger.crossval import cross_validate, labelled_frame
from obt_tools.tagger.folds import assign_folds
from obt_tools.tagger.labels import read_labels
from obt_tools.tagger.metrics import METRIC_NAMES
from obt_tools.tagger.pipeline import TaggerParams, build_pipeline, stage_params
from obt_tools.tagger.train import evaluate, train

from .conftest import FOLDS, Trained, sample_rows, write_labels


def test_card_has_every_field(trained: Trained, sample_file: Path) -> None:
    written = json.loads((trained.out / CARD_NAME).read_text())
    assert tuple(written) == CARD_FIELDS
    data = written["training_data"]
    assert data["sha256"] == read_labels(sample_file).sha256
    assert (data["rows"], data["distinct_texts"], data["positive_rows"], data["negative_rows"]) == (48, 48, 24, 24)
    assert written["input_column"] == "review_str"
    assert written["output_columns"][-2:] == ["probability", "prediction"]
    assert written["pipeline"]["params"] == TaggerParams().as_dict()
    assert [s["class"] for s in written["pipeline"]["stages"]][-1] == "pyspark.ml.classification.LogisticRegression"
    cv = written["cross_validation"]
    assert cv["folds"] == FOLDS and len(cv["model"]["per_fold"]) == len(cv["rule"]["per_fold"]) == FOLDS
    for figures in (cv["model"]["mean"], cv["rule"]["mean"], written["rule"]["all_rows"]):
        assert set(METRIC_NAMES) <= set(figures)
        assert all(0.0 <= figures[name] <= 1.0 for name in METRIC_NAMES)
    assert sum(f["rows"] for f in cv["model"]["per_fold"]) == 48
    assert written["spark_version"] and written["created_at"].endswith("+00:00")
    assert len(written["model_version"]) == 16


def test_the_sample_is_learnt_and_the_rule_is_not(trained: Trained) -> None:
    card = trained.card
    # None of the sample's texts holds "good": the rule calls every one negative.
    assert card["rule"]["all_rows"]["accuracy"] == 0.5
    assert card["rule"]["all_rows"]["recall"] == 0.0
    assert card["cross_validation"]["model"]["mean"]["accuracy"] >= 0.9


def test_the_saved_model_evaluates(spark, trained: Trained, sample_file: Path) -> None:
    result = evaluate(spark, str(trained.out), read_labels(sample_file))
    assert result.card == trained.card
    assert result.model.rows == 48
    assert result.model.accuracy == 1.0 and result.model.roc_auc == 1.0
    assert result.rule.accuracy == 0.5


def test_model_version_follows_data_params_and_code(sample_file: Path) -> None:
    data = read_labels(sample_file)
    stages = stage_params(build_pipeline())
    version = card_module.model_version(data.sha256, stages, "code", "4.0.0")
    assert version == card_module.model_version(data.sha256, stages, "code", "4.0.0")
    others = {
        card_module.model_version("f" * 64, stages, "code", "4.0.0"),
        card_module.model_version(
            data.sha256, stage_params(build_pipeline(TaggerParams(reg_param=1.0))), "code", "4.0.0"
        ),
        card_module.model_version(data.sha256, stages, "other code", "4.0.0"),
        card_module.model_version(data.sha256, stages, "code", "4.1.0"),
    }
    assert version not in others and len(others) == 4
    assert len(card_module.code_sha256()) == 64


def test_cross_validation_keeps_copies_in_one_fold(spark, tmp_path: Path) -> None:
    rows = sample_rows()
    # Every text twice: were copies split across folds, each test fold would hold texts the model trained on.
    data = read_labels(write_labels(tmp_path / "twice.csv", rows + rows))
    results = cross_validate(labelled_frame(spark, data, assign_folds(data, 2)), 2, TaggerParams())
    assert [r.train_rows + r.model.rows for r in results] == [96, 96]
    assert [r.model.rows for r in results] == [48, 48]
    # Each test fold's texts are absent from its training part, so this is not a memorised 1.0 by construction;
    # the sample's words are separable enough that the model still gets them right.
    assert all(r.model.accuracy >= 0.9 for r in results)


def test_refuses_to_overwrite_what_is_not_a_model(spark, sample_file: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(UserError, match="holds something other than a saved model"):
        train(spark, read_labels(sample_file), str(tmp_path), folds=FOLDS)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
    with pytest.raises(UserError, match="is a file"):
        train(spark, read_labels(sample_file), str(tmp_path / "notes.txt"), folds=FOLDS)


def test_a_missing_model_is_one_clear_error(spark, sample_file: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot load a tagger model from") as caught:
        evaluate(spark, str(tmp_path / "none"), read_labels(sample_file))
    assert "\n" not in str(caught.value)
