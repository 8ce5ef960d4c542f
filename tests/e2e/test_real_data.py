"""`obt demo --data-dir ../shared/data`: the real files reproduce the reference figures in the OBT, and the review
tagger trained on the real labels reaches its accuracy target and scores every review (checked against the saved
model scoring the file itself).

The tagger's figures are read from the model card the demo's training wrote (``obt tagger train``: 5-fold
cross-validation by distinct text and the fit on every row), not cross-validated again here: the training is the
~55 s of this module's setup, and the card is what the demo reports."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from obt.config import Settings
from obt.warehouse import open_warehouse
from obt.warehouse.base import Warehouse
from obt_tools import demo
from obt_tools.analytics import insights
from tests.e2e.conftest import SHARED_DATA

LABELS = SHARED_DATA / "imdb_reviews_labeled.csv.gz"
# Issue #19: cross-validated accuracy at least this; the rule's figures on the whole labelled file.
TARGET_ACCURACY = 0.85
RULE_FIGURES = {"accuracy": 0.478, "precision": 0.474, "recall": 0.355}

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> demo.DemoResult:
    if not (SHARED_DATA / "user_purchase.csv.gz").exists() or not LABELS.exists():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    options = demo.DemoOptions(
        state_dir=tmp_path_factory.mktemp("real-state"),
        data_dir=SHARED_DATA,
        ingest_date=date(2026, 11, 23),
        tagger_labels=LABELS,
    )
    with demo.restored_environment():
        return demo.run(options)


def test_reference_figures(result: demo.DemoResult) -> None:
    manifest = result.outcome.manifest
    purchases = manifest["sources"]["user_purchase"]
    assert purchases["read"] == 541_908
    assert purchases["kept"] == 392_446
    assert manifest["metrics"]["customers_with_purchases"] == 4_335
    assert Decimal(manifest["metrics"]["amount_spent_total"]) == Decimal("8833773.964")
    assert manifest["metrics"]["reviews"] == 100_000
    assert manifest["metrics"]["positive_reviews"] == 37_597
    assert manifest["obt"]["rows"] == result.obt_rows == 99_965
    assert result.outcome.ledger["rows_inserted"] == 99_965
    assert manifest["status"] == "succeeded"
    reviews = manifest["sources"]["movie_review"]
    assert {k: reviews[k] for k in ("read", "kept", "quarantined")} == {
        "read": 100_000,
        "kept": 100_000,
        "quarantined": {"malformed": 0, "duplicate": 0, "conflicting_review_id": 0},
    }
    # One vendor date: its counts are the source's.
    assert list(reviews["by_date"].values()) == [{k: reviews[k] for k in ("read", "kept", "quarantined")}]
    assert manifest["sources"]["review_log_join"]["kept"] == 100_000
    for counts in manifest["sources"].values():
        assert counts["read"] == counts["kept"] + sum(counts["quarantined"].values())
    assert manifest["metrics"]["unknown_locations"] == {}


def _warehouse(result: demo.DemoResult) -> tuple[Settings, Warehouse]:
    settings = Settings.from_env({"OBT_ENV": "local", "OBT_WAREHOUSE_PATH": str(result.state_dir / "warehouse.duckdb")})
    return settings, open_warehouse(settings)


def test_obt_table_and_insights_agree(result: demo.DemoResult) -> None:
    settings, warehouse = _warehouse(result)
    [totals] = warehouse.query(
        "SELECT COUNT(*) AS obt_rows, SUM(review_count) AS reviews, SUM(review_score) AS positive, "
        "COUNT(DISTINCT customer_id) AS customers FROM movie_analytics.obt"
    )
    assert (totals["obt_rows"], totals["reviews"], totals["positive"]) == (99_965, 100_000, 37_597)
    assert totals["customers"] == 909  # 889 with purchases + 20 without
    duplicate_keys = warehouse.query(
        "SELECT COUNT(*) AS n FROM (SELECT customer_id, log_date, device, location, os, browser "
        "FROM movie_analytics.obt GROUP BY 1, 2, 3, 4, 5, 6 HAVING COUNT(*) > 1)"
    )
    assert duplicate_keys == [{"n": 0}]
    found = insights.collect(warehouse, settings)
    assert found.key_figures.reviews == 100_000
    assert found.key_figures.obt_rows == 99_965
    assert abs(found.key_figures.positive_share - 0.37597) < 1e-9
    assert sum(s.reviews for s in found.by_region) == 100_000
    assert sum(s.reviews for s in found.by_state) == 100_000


def _model_dir(result: demo.DemoResult) -> Path:
    [model_dir] = [p for p in (result.state_dir / demo.TAGGER_FOLDER).iterdir() if p.is_dir()]
    return model_dir


def test_the_tagger_cross_validates_above_target_and_the_rule_gives_the_issue_figures(result: demo.DemoResult) -> None:
    from obt_tools.tagger.card import CARD_NAME
    from obt_tools.tagger.pipeline import TaggerParams

    card = json.loads((_model_dir(result) / CARD_NAME).read_text())
    assert (card["training_data"]["rows"], card["training_data"]["distinct_texts"]) == (3179, 3179)
    assert card["pipeline"]["params"] == TaggerParams().as_dict()
    cv = card["cross_validation"]
    assert cv["folds"] == len(cv["model"]["per_fold"]) == 5
    model = cv["model"]["mean"]
    assert model["accuracy"] >= TARGET_ACCURACY, model
    assert model["roc_auc"] >= 0.9, model
    rule = card["rule"]["all_rows"]
    assert rule["rows"] == 3179
    for name, issue in RULE_FIGURES.items():
        assert abs(rule[name] - issue) < 0.0006, rule
    # The demo trained it (a fresh state) and shows the card's figures.
    [stage] = [s for s in result.stages if s.name == demo.TAGGER_STAGE]
    assert stage.detail.startswith(f"model {card['model_version']} (trained): accuracy {model['accuracy']:.3f} ")


def test_the_tagger_scored_every_review_as_the_saved_model_scores_them(result: demo.DemoResult) -> None:
    """The OBT's ``predicted_positive`` adds up to the manifest's count, which is what the cached model says of the
    review file's texts when it scores them here, outside the pipeline."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import functions as F

    from obt_tools.tagger.pipeline import INPUT_COLUMN, PREDICTION_COLUMN
    from obt_tools.tagger.session import local_spark

    model_dir = _model_dir(result)
    tagger = result.outcome.manifest["tagger"]
    assert tagger["uri"] == f"file://{model_dir}/"
    assert tagger["model_version"] == model_dir.name
    assert tagger["reviews_scored"] == 100_000
    _, warehouse = _warehouse(result)
    [totals] = warehouse.query(
        "SELECT SUM(predicted_positive) AS positive, COUNT(sentiment_score) AS scored, "
        "MIN(sentiment_score) AS low, MAX(sentiment_score) AS high, "
        "SUM(CASE WHEN predicted_positive > review_count THEN 1 ELSE 0 END) AS over FROM movie_analytics.obt"
    )
    assert totals["positive"] == tagger["predicted_positive"]
    assert totals["scored"] == 99_965, "every OBT row has reviews, so a mean score"
    assert 0.0 <= totals["low"] <= totals["high"] <= 1.0 and totals["over"] == 0

    # Every review is kept (test_reference_figures), so the kept reviews are the file's rows. The demo left the
    # .xz file decompressed as it uploaded it; Spark reads it as the job's CSV reader does (quoted, multi-line).
    plain = result.state_dir / "data" / "vendor-plain" / "movie_review.csv"
    with local_spark("test-real-data-scoring") as local:
        reviews = local.spark.read.csv(str(plain), header=True, multiLine=True, escape='"').select(
            F.trim("review_str").alias(INPUT_COLUMN)
        )
        # The file repeats its texts (3,179 distinct ones): each is scored once and counts as often as it occurs.
        texts = reviews.groupBy(INPUT_COLUMN).agg(F.count("*").alias("copies"))
        scored = PipelineModel.load(str(model_dir)).transform(texts)
        counts = scored.agg(
            F.sum("copies").alias("rows"), F.sum(F.col(PREDICTION_COLUMN) * F.col("copies")).alias("positive")
        ).first()
    assert counts["rows"] == 100_000
    assert int(counts["positive"]) == tagger["predicted_positive"]
