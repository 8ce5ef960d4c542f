"""The model card, ``model_card.json`` beside the saved model: what the model was trained on, how, and how well.

``model_version`` is the first 16 hex digits of a SHA-256 over the training file's SHA-256, every stage's
parameters, the training code (this package's sources) and the Spark version: a model trained differently in any
of these gets another version; retraining the same file with the same code gives the same version (and, L-BFGS
being deterministic, the same model), whatever ``created_at`` says.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from obt_tools.tagger import pipeline
from obt_tools.tagger.crossval import FoldResult
from obt_tools.tagger.labels import LabelledReviews
from obt_tools.tagger.metrics import Metrics, mean
from obt_tools.tagger.rule import RULE_NAME

CARD_NAME = "model_card.json"
CARD_FIELDS = (
    "model_version",
    "created_at",
    "spark_version",
    "input_column",
    "output_columns",
    "training_data",
    "pipeline",
    "training_code_sha256",
    "cross_validation",
    "rule",
)
_PACKAGE = Path(__file__).resolve().parent


def card_uri(model_uri: str) -> str:
    return f"{model_uri.rstrip('/')}/{CARD_NAME}"


def code_sha256() -> str:
    """SHA-256 over this package's Python sources (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for source in sorted(_PACKAGE.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes() + b"\0")
    return digest.hexdigest()


def model_version(data_sha256: str, stages: list[dict[str, Any]], code: str, spark_version: str) -> str:
    identity = {"training_data_sha256": data_sha256, "stages": stages, "code": code, "spark": spark_version}
    return hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_card(
    data: LabelledReviews,
    params: pipeline.TaggerParams,
    folds: int,
    seed: int,
    results: Sequence[FoldResult],
    rule_all_rows: Metrics,
    spark_version: str,
) -> dict[str, Any]:
    stages = pipeline.stage_params(pipeline.build_pipeline(params))
    code = code_sha256()
    return {
        "model_version": model_version(data.sha256, stages, code, spark_version),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "spark_version": spark_version,
        "input_column": pipeline.INPUT_COLUMN,
        "output_columns": list(pipeline.OUTPUT_COLUMNS),
        "training_data": data.summary(),
        "pipeline": {"params": params.as_dict(), "stages": stages},
        "training_code_sha256": code,
        "cross_validation": {
            "folds": folds,
            "split": "by distinct text (copies share a fold), stratified by label",
            "seed": seed,
            "model": _figures([r.model for r in results]),
            "rule": _figures([r.rule for r in results]),
            "train_rows": [r.train_rows for r in results],
        },
        "rule": {"name": RULE_NAME, "all_rows": rule_all_rows.as_dict()},
    }


def _figures(per_fold: list[Metrics]) -> dict[str, Any]:
    return {"mean": mean(per_fold).as_dict(), "per_fold": [m.as_dict() for m in per_fold]}


def dumps(card: dict[str, Any]) -> str:
    return json.dumps(card, indent=2, default=str) + "\n"
