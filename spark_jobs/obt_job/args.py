"""The job's command line, exactly as ``docs/contracts.md`` defines it: every input is named, nothing is listed.

A ``gs://`` input must pin its generation (``gs://B/NAME#G``, ``obt_contract.layout``): the job cannot check it
reads the version its build id names otherwise (``inputs``), so one without is refused before anything runs.
``file://`` inputs (tests) pin nothing.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from obt_contract.layout import LayoutError, split_pinned_uri

_SCHEMES = ("gs://", "file://")


@dataclass(frozen=True)
class JobArgs:
    build_id: str
    input_watermark: int
    purchases_manifest: str
    purchases: tuple[str, ...]
    movie_reviews: tuple[str, ...]
    log_reviews: tuple[str, ...]
    output: str
    topic: str
    max_quarantine_share: float
    # The review tagger's model folder (``tagging``); None: the OBT's tagger columns are NULL.
    tagger_model: str | None = None
    # Classify every vendor date again instead of reading the dates already classified (``layers``).
    full_rebuild: bool = False
    # Classify these vendor dates again, reading the others from the layer (``obt backfill --rebuild DATE``).
    reclassify_dates: tuple[date, ...] = ()

    @property
    def output_root(self) -> str:
        return self.output.rstrip("/")


def _uri(text: str) -> str:
    if not text.startswith(_SCHEMES):
        raise argparse.ArgumentTypeError(f"expected a gs:// or file:// URI, got {text!r}")
    return text


def _input(text: str) -> str:
    if text.startswith("gs://"):
        try:
            split_pinned_uri(text)
        except LayoutError as exc:
            raise argparse.ArgumentTypeError(f"an input must pin its generation: {exc}") from exc
    return _uri(text)


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {value}")
    return value


def _day(text: str) -> date:
    # The pattern first: fromisoformat alone also takes 20210101 and week dates.
    try:
        if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            return date.fromisoformat(text)
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}")


def _topic(text: str) -> str:
    parts = text.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "topics" or not parts[1] or not parts[3]:
        raise argparse.ArgumentTypeError(f"expected projects/P/topics/T, got {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="build_obt", description="Build one OBT from named raw inputs.")
    parser.add_argument("--build-id", required=True)
    parser.add_argument("--input-watermark", required=True, type=int)
    parser.add_argument("--purchases-manifest", required=True, type=_input)
    parser.add_argument("--purchases", action="append", required=True, type=_input)
    parser.add_argument("--movie-reviews", action="append", required=True, type=_input)
    parser.add_argument("--log-reviews", action="append", required=True, type=_input)
    parser.add_argument("--output", required=True, type=_uri)
    parser.add_argument("--topic", required=True, type=_topic)
    parser.add_argument("--max-quarantine-share", type=_share, default=0.5)
    # A folder, not a pinned input: its name is the model version (``tagging``).
    parser.add_argument("--tagger-model", type=_uri, default=None)
    parser.add_argument(
        "--full-rebuild",
        action="store_true",
        help="classify every vendor date again, ignoring (and replacing) the classified layer's markers",
    )
    parser.add_argument(
        "--reclassify-date",
        action="append",
        type=_day,
        default=[],
        help="classify this vendor date (YYYY-MM-DD) again, ignoring (and replacing) its layer marker; repeatable",
    )
    return parser


def parse_args(argv: Sequence[str]) -> JobArgs:
    ns = build_parser().parse_args(list(argv))
    return JobArgs(
        build_id=ns.build_id,
        input_watermark=ns.input_watermark,
        purchases_manifest=ns.purchases_manifest,
        purchases=tuple(ns.purchases),
        movie_reviews=tuple(ns.movie_reviews),
        log_reviews=tuple(ns.log_reviews),
        output=ns.output,
        topic=ns.topic,
        max_quarantine_share=ns.max_quarantine_share,
        tagger_model=ns.tagger_model,
        full_rebuild=ns.full_rebuild,
        reclassify_dates=tuple(ns.reclassify_date),
    )
