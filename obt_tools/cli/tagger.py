"""``obt tagger``: train the review tagger with cross-validation, or evaluate a saved one (see ``obt_tools.tagger``).

Inputs are checked before Spark starts (a missing or malformed labels file, a bad ``--folds``, a local model folder
that does not exist), so a mistake costs no JVM start and prints one line.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from obt.errors import UserError
from obt_tools.tagger.folds import assign_folds
from obt_tools.tagger.labels import LabelledReviews, read_labels
from obt_tools.tagger.metrics import METRIC_NAMES, Metrics


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "tagger",
        help="train or evaluate the review tagger (a Spark ML model of review sentiment)",
        description="Train the review tagger on labelled reviews (CSV with columns review, sentiment = "
        "positive/negative; plain or gzip) with k-fold cross-validation by distinct text, or evaluate a saved model.",
    )
    commands = parser.add_subparsers(dest="tagger_command", metavar="SUBCOMMAND", required=True)
    train = commands.add_parser(
        "train",
        help="cross-validate, fit on all rows, save the model and its card",
        description="Cross-validate the pipeline (folds by distinct text), print its figures next to the 'good' "
        "rule's, then fit it on every labelled row and save the PipelineModel to --out with model_card.json beside "
        "it. An existing model at --out is replaced.",
    )
    train.add_argument("--labels", required=True, type=Path, help="labelled reviews: CSV, plain or .gz")
    train.add_argument("--out", required=True, help="model folder or URI (file://, gs:// with the GCS connector)")
    # Kept as text so a bad value becomes the command's one-line error rather than an argparse usage dump.
    train.add_argument("--folds", default="5", help="cross-validation folds (default 5)")
    train.set_defaults(func=run_train)
    evaluate = commands.add_parser(
        "evaluate",
        help="figures of a saved model on a labelled file",
        description="Score a labelled file with a saved model; the last line is 'accuracy: 0.XXXX'.",
    )
    evaluate.add_argument("--model", required=True, help="saved model folder or URI")
    evaluate.add_argument("--labels", required=True, type=Path, help="labelled reviews: CSV, plain or .gz")
    evaluate.set_defaults(func=run_evaluate)


def run_train(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    folds = _folds(args.folds)
    data = read_labels(args.labels)
    out = args.out if "://" in args.out else str(Path(args.out).resolve())
    # Also checked in train(); here so that too few texts per class fails before the JVM starts.
    assign_folds(data, folds)
    print(_describe_data(data), flush=True)
    # pyspark is imported only when it is needed: it is an optional dependency of the ``obt`` command.
    from obt_tools.tagger.card import card_uri
    from obt_tools.tagger.session import local_spark
    from obt_tools.tagger.train import train

    with local_spark("obt-tagger-train") as local:
        card = train(local.spark, data, out, folds)
    cv = card["cross_validation"]
    print(f"{folds}-fold cross-validation, folds by distinct text (seed {cv['seed']}), mean of the folds:")
    print(_table({"model": cv["model"]["mean"], "rule 'good'": cv["rule"]["mean"]}))
    for name in ("model", "rule"):
        per_fold = " ".join(f"{m['accuracy']:.4f}" for m in cv[name]["per_fold"])
        print(f"{name} accuracy per fold: {per_fold}")
    rule_all = card["rule"]["all_rows"]
    print(f"rule on all {rule_all['rows']:,} rows: " + _inline(rule_all))
    print(f"model {card['model_version']} saved to {out}, card {card_uri(out)}")
    log = f" (Spark's log: {local.log})" if local.log else ""
    print(f"took {time.perf_counter() - started:.1f} s{log}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    data = read_labels(args.labels)
    model = args.model if "://" in args.model else str(Path(args.model).resolve())
    if "://" not in args.model and not (Path(model) / "metadata").is_dir():
        raise UserError(f"no saved model at {model} (no metadata folder)")
    from obt_tools.tagger.session import local_spark
    from obt_tools.tagger.train import evaluate

    with local_spark("obt-tagger-evaluate") as local:
        result = evaluate(local.spark, model, data)
    version = result.card["model_version"] if result.card else "without a model card"
    print(f"model {version} at {model}")
    print(_describe_data(data))
    print(f"rule 'good': {_inline(result.rule.as_dict())}")
    figures = result.model
    for name in METRIC_NAMES[1:]:
        print(f"{name}: {getattr(figures, name):.4f}")
    # Last, and exactly this shape: scripts read the accuracy from the final line.
    print(f"accuracy: {figures.accuracy:.4f}")
    return 0


def _folds(text: str) -> int:
    try:
        folds = int(text)
    except ValueError:
        raise UserError(f"--folds must be a whole number, got {text!r}") from None
    if folds < 2:
        raise UserError(f"--folds must be at least 2, got {folds}")
    return folds


def _describe_data(data: LabelledReviews) -> str:
    return (
        f"labels {data.source}: {data.rows:,} rows, {data.distinct_texts:,} distinct texts "
        f"({data.positive_rows:,} positive, {data.negative_rows:,} negative rows), sha256 {data.sha256[:12]}…"
    )


def _table(columns: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'':<10}" + "".join(f"{name:>14}" for name in columns)]
    for metric in METRIC_NAMES:
        lines.append(f"{metric:<10}" + "".join(f"{figures[metric]:>14.4f}" for figures in columns.values()))
    return "\n".join(lines)


def _inline(figures: dict[str, Any] | Metrics) -> str:
    values = figures.as_dict() if isinstance(figures, Metrics) else figures
    return ", ".join(f"{name} {values[name]:.4f}" for name in METRIC_NAMES)
