"""The review tagger in the build: the Spark ML model ``--tagger-model`` names scores every kept review.

The model is ``obt tagger train``'s ``PipelineModel`` (``obt_tools.tagger``; the job never imports it): it reads
``review_str`` and adds ``prediction`` (1.0 = positive) and ``probability`` (index 1 = P(positive)), besides its
internal columns. The job keeps two columns per review: ``predicted_positive`` (int, the prediction) and
``sentiment_score`` (double, P(positive)); ``obt.build`` sums the first and averages the second per OBT key.

Decisions:

- **Scored before the cache.** The reviews are scored inside their source's classification (``job.Build``), before
  its rows are cached without their texts (spark_jobs/README.md, "Texts are not cached"): only the two scores are
  cached, and the review/log join carries them to the OBT. Scoring the matched rows after the join instead would
  read and classify the review file a second time, for its texts.
- **Kept reviews only.** A rejected review never reaches the OBT; its scores are NULL, so the manifest counts the
  kept reviews only (``manifest_record``).
- **Each distinct text scored once.** The model costs ~13-15 CPU-seconds per 100,000 texts (tokens, vocabulary
  lookups), more than the rest of a build's review rules, and vendor files repeat texts: the real one has 3,179
  distinct texts in 100,000 reviews. So ``score`` keys every text by ``xxhash64``, scores one text per key, and
  joins the scores back by key, broadcast: ~20 bytes per distinct text, where the reviews (texts included) would
  otherwise be shuffled again for the join. The distinct texts come from the reviews' own shuffled rows (Spark
  reuses that exchange: the file is read once). One text per key means a join never duplicates a review; two
  different texts with one 64-bit key (odds ~n²/2⁶⁵ for n distinct texts: 10⁻⁶ at 10 million) would share one
  text's scores. When every text is distinct (generated data) nothing is saved, and the grouping and the join cost
  little beside the scoring itself (a 1× generated build took as long as with per-row scoring, within the shared
  machine's noise).
- **No model, no scores.** Without ``--tagger-model`` nothing is loaded and both columns are NULL, typed as with a
  model, so the rest of the build does not depend on whether there is one.
- **The model is loaded only to score.** ``load`` reads and checks the card (one small file), so an unusable model
  still stops the build before any source is read; the ``PipelineModel`` itself (~1.4 s hot: a dozen small Spark
  jobs reading its stages) is loaded on first use of ``Tagger.model``, which ``job.Build`` makes just before the
  sources are classified when a review date is to be scored (not inside a source's thread: there its jobs would
  wait behind the other sources' long read tasks). A build whose vendor dates all have their layer (the scores are
  in it), such as one a new purchase snapshot starts, never loads it.
- **A model URI names one model.** The build id hashes the model's URI (``obt.trigger.planner``), so a URI must
  always mean the same model: the URI is a folder named after its model version, and a model whose card
  (``model_card.json`` beside it) gives another version stops the build before any source is read.
- **Local runs read a ``file://`` model.** The local Dataproc endpoint mirrors single objects, not folders, so under
  it a ``gs://`` model is refused with that reason; on Dataproc Spark reads ``gs://`` itself.
- Built-in functions only: the pipeline's stages run in the JVM, and so does ``vector_to_array``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pyspark.ml import PipelineModel
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from obt_job import fs
from obt_job.paths import PathMap

CARD_NAME = "model_card.json"
# The fitted model's input, and the outputs that the job reads.
_TEXT = "review_str"
_PREDICTION = "prediction"
_PROBABILITY = "probability"
# ``score``'s own columns, joined and dropped again.
_KEY = "_tagger_text_key"
_POSITIVE = "_tagger_positive"
_SCORE = "_tagger_score"
# The columns scoring adds to the classified reviews (and the OBT's, aggregated).
PREDICTED_POSITIVE = "predicted_positive"
SENTIMENT_SCORE = "sentiment_score"


class TaggerError(ValueError):
    """The model ``--tagger-model`` names cannot score this build."""


@dataclass(frozen=True)
class Tagger:
    uri: str  # as --tagger-model gives it
    model_version: str  # from its card, equal to the folder's name
    folder: str  # where Spark reads it

    @cached_property
    def model(self) -> PipelineModel:
        return PipelineModel.load(self.folder)


def load(spark: SparkSession, paths: PathMap, uri: str) -> Tagger:
    """The model at ``uri`` and its version, checked against the folder's name (module docstring)."""
    if paths.mirrored and uri.startswith("gs://"):
        raise TaggerError(
            f"tagger model {uri}: the local Dataproc endpoint mirrors objects, not folders; give a file:// URI"
        )
    folder = paths.spark_uri(uri).rstrip("/")
    if not fs.list_names(spark, folder, CARD_NAME, CARD_NAME):
        raise TaggerError(f"tagger model {uri}: no {CARD_NAME} in the folder")
    version = json.loads(fs.read_text(spark, f"{folder}/{CARD_NAME}")).get("model_version")
    named = folder.rsplit("/", 1)[-1]
    if version != named:
        raise TaggerError(
            f"tagger model {uri}: its {CARD_NAME} says model_version {version!r}, the folder is named {named!r}; "
            "a model URI must name exactly one model version"
        )
    return Tagger(uri, version, folder)


def score(tagger: Tagger | None, reviews: DataFrame, *, empty: bool = False) -> DataFrame:
    """The classified ``reviews`` (``review_str``, ``reason``, …) with ``predicted_positive`` and
    ``sentiment_score``: the model's verdict on each kept review, NULL on rejected ones, NULL throughout without
    a model. No other column of the model's is kept. ``empty``: the caller knows there are no reviews (only their
    schema is wanted), so the model is not loaded."""
    if tagger is None or empty:
        return reviews.withColumns(
            {PREDICTED_POSITIVE: F.lit(None).cast("int"), SENTIMENT_SCORE: F.lit(None).cast("double")}
        )
    kept = F.col("reason").isNull()
    # The model scores a NULL text as an empty one, so the two share a key.
    key = F.xxhash64(F.coalesce(F.col(_TEXT), F.lit("")))
    # ``min``, not ``first``: the same rows always give the same text to score, whatever their order.
    texts = reviews.where(kept).groupBy(key.alias(_KEY)).agg(F.min(_TEXT).alias(_TEXT))
    scores = tagger.model.transform(texts).select(
        _KEY,
        F.col(_PREDICTION).cast("int").alias(_POSITIVE),
        vector_to_array(F.col(_PROBABILITY))[1].alias(_SCORE),
    )
    scored = reviews.join(F.broadcast(scores), key == F.col(_KEY), "left")
    return scored.select(
        *reviews.columns,
        F.when(kept, F.col(_POSITIVE)).alias(PREDICTED_POSITIVE),
        F.when(kept, F.col(_SCORE)).alias(SENTIMENT_SCORE),
    )


def tally() -> dict[str, Column]:
    """What the reviews' count query adds per reason for ``manifest_record``."""
    return {"scored": F.count(SENTIMENT_SCORE), "tagged_positive": F.sum(PREDICTED_POSITIVE)}


def manifest_record(tagger: Tagger | None, review_tally: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The manifest's ``tagger``: which model scored the kept reviews, how many, and how many it calls positive;
    ``None`` without a model."""
    if tagger is None:
        return None
    kept = [row for row in review_tally if row["reason"] is None]
    return {
        "uri": tagger.uri,
        "model_version": tagger.model_version,
        "reviews_scored": sum(int(row["scored"]) for row in kept),
        "predicted_positive": sum(int(row["tagged_positive"] or 0) for row in kept),
    }
