"""`obt demo --data-dir ../shared/data`: the real files reproduce the reference figures in the OBT, and the review
tagger trained on the real labels scores every review (checked against the saved model scoring the file itself)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from obt.config import Settings
from obt.warehouse import open_warehouse
from obt.warehouse.base import Warehouse
from obt_tools import demo
from obt_tools.analytics import insights
from tests.e2e.conftest import SHARED_DATA

LABELS = SHARED_DATA / "imdb_reviews_labeled.csv.gz"

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
    assert manifest["sources"]["movie_review"] == {
        "read": 100_000,
        "kept": 100_000,
        "quarantined": {"malformed": 0, "duplicate": 0, "conflicting_review_id": 0},
    }
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


def test_the_tagger_scored_every_review_as_the_saved_model_scores_them(result: demo.DemoResult) -> None:
    """The OBT's ``predicted_positive`` adds up to the manifest's count, which is what the cached model says of the
    review file's texts when it scores them here, outside the pipeline."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import functions as F

    from obt_tools.tagger.pipeline import INPUT_COLUMN, PREDICTION_COLUMN
    from obt_tools.tagger.session import local_spark

    [stage] = [s for s in result.stages if s.name == demo.TAGGER_STAGE]
    assert stage.detail.startswith("model ") and "(trained)" in stage.detail
    [model_dir] = [p for p in (result.state_dir / demo.TAGGER_FOLDER).iterdir() if p.is_dir()]
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
        scored = PipelineModel.load(str(model_dir)).transform(reviews)
        counts = scored.agg(F.count("*").alias("rows"), F.sum(PREDICTION_COLUMN).alias("positive")).first()
    assert counts["rows"] == 100_000
    assert int(counts["positive"]) == tagger["predicted_positive"]
