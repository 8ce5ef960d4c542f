"""The pipeline: built-in stages only, the rules' tokens, and a fitted model that scores new texts sensibly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from obt_tools.tagger import pipeline
from obt_tools.tagger.crossval import labelled_frame
from obt_tools.tagger.labels import read_labels
from obt_tools.tagger.pipeline import INPUT_COLUMN, OUTPUT_COLUMNS, build_pipeline, tokens_sql
from obt_tools.tagger.rule import good_rule


def rules_tokens(text: str) -> list[str]:
    """The README's definition, literally: lower, HTML tags -> space, split on runs outside [a-z0-9]."""
    return [t for t in re.split(r"[^a-z0-9]+", re.sub(r"<[^>]*>", " ", text.lower())) if t]


@pytest.fixture(scope="module")
def model(spark, sample_file: Path):
    return build_pipeline().fit(labelled_frame(spark, read_labels(sample_file)))


def test_every_stage_is_a_spark_ml_builtin(model) -> None:
    # Python stages (or a pyspark.ml wrapper around a Python UDF) would run in Python workers on Dataproc:
    # every stage must be a pyspark.ml class backed by a JVM org.apache.spark.ml class.
    for stage in [*build_pipeline().getStages(), *model.stages]:
        assert type(stage).__module__.startswith("pyspark.ml."), type(stage)
        assert stage._java_obj.getClass().getName().startswith("org.apache.spark.ml."), type(stage)


def test_the_sql_stage_calls_no_user_function(spark) -> None:
    # Only built-in functions: a function name that Spark does not know would be a registered UDF.
    statement = build_pipeline().getStages()[0].getStatement()
    called = set(re.findall(r"([a-z_]+)\(", statement))
    builtin = {row[0] for row in spark.sql("SHOW SYSTEM FUNCTIONS").collect()}
    assert called and called <= builtin, called - builtin


def test_tokens_are_the_rules_tokens(spark) -> None:
    texts = [
        "Good<br /><br />GOOD film, not-good... 10/10!",
        "a<b>c < d > e <unclosed good",
        "<p class='x'>Tag text is not a token</p>gone<i>",
        "Café naïve résumé — 2nd ½ KELVIN",
        "",
        "   ",
    ]
    frame = spark.createDataFrame([(t,) for t in texts], f"{INPUT_COLUMN} string")
    got = [row[0] for row in frame.selectExpr(tokens_sql(INPUT_COLUMN)).collect()]
    assert got == [rules_tokens(t) for t in texts]


def test_the_rule_column_matches_the_rule(spark) -> None:
    texts = ["good", "Good!", "goods", "not<b>good</b>", "<good>", "no good<x", "feelgood"]
    frame = spark.createDataFrame([(t,) for t in texts], f"{INPUT_COLUMN} string")
    got = [row[0] for row in frame.select(good_rule(INPUT_COLUMN)).collect()]
    assert got == [float("good" in rules_tokens(t)) for t in texts] == [1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0]


def test_model_scores_new_texts_the_right_way(spark, model) -> None:
    new = [
        ("An excellent film: superb music, I loved it.", 1.0),
        ("Brilliant and beautiful, a masterpiece", 1.0),
        ("Terrible. Boring plot, the worst waste of time", 0.0),
        ("Stupid, dull and horrible acting", 0.0),
    ]
    frame = spark.createDataFrame([(t,) for t, _ in new], f"{INPUT_COLUMN} string")
    scored = model.transform(frame)
    assert scored.columns == [INPUT_COLUMN, *OUTPUT_COLUMNS]
    rows = scored.select("prediction", "probability").collect()
    assert [row["prediction"] for row in rows] == [label for _, label in new]
    for row, (_, label) in zip(rows, new, strict=True):
        p_positive = row["probability"][1]
        assert abs(row["probability"][0] + p_positive - 1.0) < 1e-9
        assert (p_positive > 0.6) if label else (p_positive < 0.4), (p_positive, label)


def test_a_null_text_is_scored_as_an_empty_one(spark, model) -> None:
    frame = spark.createDataFrame([(None,), ("",)], f"{INPUT_COLUMN} string")
    rows = model.transform(frame).select("tagger_tokens", "probability").collect()
    assert rows[0]["tagger_tokens"] == rows[1]["tagger_tokens"] == []
    assert rows[0]["probability"] == rows[1]["probability"]


def test_params_are_described_for_the_card() -> None:
    stages = pipeline.stage_params(build_pipeline())
    assert [s["class"].rsplit(".", 1)[1] for s in stages] == [
        "SQLTransformer",
        "CountVectorizer",
        "IDF",
        "LogisticRegression",
    ]
    assert stages[3]["params"]["regParam"] == pipeline.TaggerParams().reg_param
    assert stages[1]["params"]["binary"] is True
