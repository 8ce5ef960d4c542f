"""The review tagger in the job (``obt_job.tagging``): kept reviews scored as the model scores them, per OBT key,
in the JVM; nothing loaded without a model; a model URI that does not name its model version refused."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil

import pytest

pytest.importorskip("pyspark")

from obt_job import obt, reviews, tagging  # noqa: E402
from obt_job.args import parse_args  # noqa: E402
from obt_job.csv_input import CORRUPT  # noqa: E402
from obt_job.paths import PathMap  # noqa: E402
from obt_job.sources import VENDOR_SOURCES  # noqa: E402

from tests.spark_jobs.helpers import DAY, classify_one_date, job_argv  # noqa: E402

R_SCHEMA = ", ".join(f"{c} string" for c in (*reviews.COLUMNS, CORRUPT))
# New texts (none is in the labelled sample), by review id; 10 and 11 share an OBT key, 12 has its own.
NEW_TEXTS = {
    10: "A great, wonderful <b>story</b>!",
    11: "boring and dull: a waste of an evening",
    12: "the actors LOVED it, superb",
}
CUSTOMER = {10: 100, 11: 100, 12: 200}
# What obt.build LEFT-joins per customer (purchases.customer_aggregate); no customer here has purchases.
CUSTOMER_COLUMNS = (
    "customer_id bigint, amount_spent decimal(38,9), count_invoices bigint, first_invoice_date date, "
    "last_invoice_date date"
)
# Rejected by the vendor rules, so never scored: a conflicting review id and a malformed customer id.
REJECTED = [("200", "great superb", "13"), ("200", "awful", "13"), ("abc", "wonderful", "14")]


def classified_reviews(spark):
    rows = [(str(CUSTOMER[i]), text, str(i), None) for i, text in NEW_TEXTS.items()]
    return classify_one_date(VENDOR_SOURCES[0], spark.createDataFrame(rows + [(*r, None) for r in REJECTED], R_SCHEMA))


def model_says(spark, tagger_model, texts=None) -> dict[str, tuple[int, float]]:
    """What the saved model itself says for each text (default: the new texts): (prediction, P(positive))."""
    from pyspark.ml import PipelineModel

    frame = spark.createDataFrame([(t,) for t in texts or NEW_TEXTS.values()], "review_str string")
    scored = PipelineModel.load(str(tagger_model.folder)).transform(frame).collect()
    return {row["review_str"]: (int(row["prediction"]), float(row["probability"][1])) for row in scored}


@pytest.fixture(scope="module")
def tagger(spark, tagger_model) -> tagging.Tagger:
    return tagging.load(spark, PathMap(), tagger_model.uri)


def test_the_model_and_its_version_load_from_the_folder_named_after_it(tagger, tagger_model):
    assert (tagger.uri, tagger.model_version) == (tagger_model.uri, tagger_model.version)


def test_kept_reviews_are_scored_as_the_model_scores_them_and_aggregated_per_key(spark, tagger, tagger_model):
    classified = classified_reviews(spark)
    scored = tagging.score(tagger, classified)
    # Only the two scores join the classified columns: none of the model's own (texts, vectors) reaches the cache.
    assert scored.columns == [*classified.columns, "predicted_positive", "sentiment_score"]
    assert dict(scored.dtypes)["predicted_positive"] == "int" and dict(scored.dtypes)["sentiment_score"] == "double"
    says = model_says(spark, tagger_model)
    assert {p for p, _ in says.values()} == {0, 1}, "the sample texts should be called both ways"
    by_id = {r["review_id"]: r for r in scored.collect()}
    for review_id, text in NEW_TEXTS.items():
        assert by_id[review_id]["reason"] is None
        assert by_id[review_id]["predicted_positive"] == says[text][0]
        assert by_id[review_id]["sentiment_score"] == pytest.approx(says[text][1], abs=1e-12)
    assert all(r["predicted_positive"] is None and r["sentiment_score"] is None for r in by_id.values() if r["reason"])

    day = dt.date(2021, 4, 25)
    logs = spark.createDataFrame(
        [(i, day, "Mobile", "Kansas", "Linux", "Firefox", "East", "Spring", DAY) for i in NEW_TEXTS],
        "review_id bigint, log_date date, device string, location string, os string, browser string, "
        "region string, season string, ingest_date date",
    )
    kept = scored.where("reason IS NULL").drop("review_str")  # as cached: without the text
    joined = obt.join_reviews_logs(kept, logs).where("reason IS NULL")
    customers = spark.createDataFrame([], CUSTOMER_COLUMNS)
    table = {r["customer_id"]: r for r in obt.build(joined, customers).collect()}
    for customer in (100, 200):
        texts = [NEW_TEXTS[i] for i, c in CUSTOMER.items() if c == customer]
        assert table[customer]["predicted_positive"] == sum(says[t][0] for t in texts)
        assert table[customer]["sentiment_score"] == pytest.approx(sum(says[t][1] for t in texts) / len(texts))

    tally = scored.groupBy("reason").agg(*[c.alias(name) for name, c in tagging.tally().items()]).collect()
    assert tagging.manifest_record(tagger, [r.asDict() for r in tally]) == {
        "uri": tagger_model.uri,
        "model_version": tagger_model.version,
        "reviews_scored": len(NEW_TEXTS),
        "predicted_positive": sum(p for p, _ in says.values()),
    }


def test_each_distinct_kept_text_is_scored_once_and_every_review_gets_its_scores(spark, tagger, tagger_model):
    """The model is given each distinct text of the kept reviews once (an empty text and a blank one are both NULL
    once trimmed, and NULL is scored as empty); the join that brings the scores back loses and repeats no review."""
    great, boring = NEW_TEXTS[10], NEW_TEXTS[11]
    rows = [("300", great, "20"), ("301", great, "21"), ("302", great, "22"), ("300", boring, "23")]
    rows += [("300", "", "24"), ("301", "  ", "25"), ("x", NEW_TEXTS[12], "26")]  # 26: malformed, never scored
    classified = classify_one_date(VENDOR_SOURCES[0], spark.createDataFrame([(*r, None) for r in rows], R_SCHEMA))
    given = []

    class Recording:
        """The loaded model, noting what it is given."""

        def transform(self, df):
            given.append(df)
            return tagger.model.transform(df)

    recording = dataclasses.replace(tagger)
    recording.__dict__["model"] = Recording()  # what the cached property holds once loaded
    scored = tagging.score(recording, classified).collect()
    by_id = {r["review_id"]: r for r in scored}
    assert len(scored) == len(by_id) == len(rows)
    [texts] = given
    assert sorted(texts.columns) == ["_tagger_text_key", "review_str"]
    assert sorted(r["review_str"] or "" for r in texts.collect()) == sorted(["", boring, great])
    says = model_says(spark, tagger_model, (great, boring, ""))
    for review_id, text in ((20, great), (21, great), (22, great), (23, boring), (24, ""), (25, "")):
        got = (by_id[review_id]["predicted_positive"], by_id[review_id]["sentiment_score"])
        assert got == pytest.approx(says[text], abs=1e-12), review_id
    assert by_id[26]["reason"] == "malformed"
    assert (by_id[26]["predicted_positive"], by_id[26]["sentiment_score"]) == (None, None)


def _python_udfs(df) -> list[str]:
    plan = df._jdf.queryExecution().executedPlan().toString()
    return [node for node in ("BatchEvalPython", "ArrowEvalPython", "PythonUDF") if node in plan]


def test_scoring_runs_in_the_jvm_without_a_python_udf(spark, tagger):
    from pyspark.sql import functions as F

    classified = classified_reviews(spark)
    assert _python_udfs(tagging.score(tagger, classified)) == []
    # The check sees a Python UDF when there is one.
    assert _python_udfs(classified.select(F.udf(lambda text: text, useArrow=False)("review_str"))) == [
        "BatchEvalPython"
    ]


def test_without_a_model_nothing_is_loaded_and_the_scores_are_null(spark, monkeypatch, tmp_path):
    from obt_job import job

    def no_loading(*_):
        raise AssertionError("a build without --tagger-model loaded a model")

    monkeypatch.setattr(tagging.PipelineModel, "load", no_loading)
    args = parse_args(job_argv("obt-untagged", "file:///m", ["file:///p"], ["file:///r"], ["file:///l"], "file:///o"))
    build = job.Build(spark, args)
    build.load_tagger()
    assert build.tagger is None
    scored = tagging.score(None, classified_reviews(spark))
    assert dict(scored.dtypes)["predicted_positive"] == "int" and dict(scored.dtypes)["sentiment_score"] == "double"
    assert {(r["predicted_positive"], r["sentiment_score"]) for r in scored.collect()} == {(None, None)}
    assert tagging.manifest_record(None, []) is None


def test_the_model_itself_is_loaded_only_when_reviews_are_scored(spark, tagger_model, monkeypatch):
    """The card is checked at once, the ``PipelineModel`` loaded by the first scoring, once: a build whose every
    date has its layer (here: no review file to classify) never loads it."""
    from obt_job import job

    loaded = []
    load = tagging.PipelineModel.load
    monkeypatch.setattr(tagging.PipelineModel, "load", lambda folder: loaded.append(folder) or load(folder))
    argv = job_argv("obt-tagged", "file:///m", ["file:///p"], ["file:///r"], ["file:///l"], "file:///o")
    build = job.Build(spark, parse_args([*argv, "--tagger-model", tagger_model.uri]))
    build.load_tagger()
    assert (build.tagger.model_version, loaded) == (tagger_model.version, [])
    schema_only = dict(build._layer_rows(VENDOR_SOURCES[0], []).dtypes)
    assert (schema_only["predicted_positive"], schema_only["sentiment_score"], loaded) == ("int", "double", [])
    for _ in range(2):
        tagging.score(build.tagger, classified_reviews(spark))
    assert [folder.rsplit("/", 1)[-1] for folder in loaded] == [tagger_model.version]


def test_a_model_whose_card_names_another_version_than_its_folder_is_refused(spark, tagger_model, tmp_path):
    copied = shutil.copytree(tagger_model.folder, tmp_path / "0000000000000000")
    with pytest.raises(tagging.TaggerError, match=f"model_version '{tagger_model.version}', the folder is named "):
        tagging.load(spark, PathMap(), copied.as_uri())
    (copied / tagging.CARD_NAME).unlink()
    with pytest.raises(tagging.TaggerError, match="no model_card.json in the folder"):
        tagging.load(spark, PathMap(), copied.as_uri())


def test_under_the_local_endpoint_a_gs_model_is_refused_for_a_file_uri(spark, tmp_path):
    with pytest.raises(tagging.TaggerError, match="mirrors objects, not folders; give a file:// URI"):
        tagging.load(spark, PathMap(str(tmp_path)), "gs://sources/tagger/0123456789abcdef/")
