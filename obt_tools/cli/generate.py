"""``obt generate``: synthetic source files (see ``obt_tools.generate``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from obt_tools.generate import FILES, expected_rows, generate, parse_scale


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "generate",
        help="write synthetic user_purchase.csv, movie_review.csv and log_reviews.csv",
        description="Write synthetic source files shaped (and dirty) like the real ones. "
        "Scale 1 is about the real sizes: 541,908 purchase lines, 100,000 reviews and logs.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output folder (created if missing)")
    # Kept as text so a bad value becomes the command's one-line error rather than an argparse usage dump.
    parser.add_argument("--scale", required=True, help="size relative to the real files, e.g. 1 or 0.01")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument(
        "--id-offset",
        type=int,
        default=0,
        help="review ids start after this number: a second vendor day continues after the first (default 0)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=tuple(FILES),
        help="write only this source (repeatable); e.g. a second vendor day: --only movie_review --only log_reviews",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scale = parse_scale(args.scale)
    sources = tuple(args.only or FILES)
    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import Progress

        total = sum(rows for source, rows in expected_rows(scale).items() if source in sources)
        with Progress(console=Console(stderr=True), transient=True) as progress:
            task = progress.add_task("generating", total=total)
            written = generate(args.out, scale, args.seed, args.id_offset, sources, lambda n: progress.advance(task, n))
    else:
        written = generate(args.out, scale, args.seed, args.id_offset, sources)
    for source, rows in written.items():
        print(f"{args.out / FILES[source]}: {rows:,} rows (scale {scale:g}, seed {args.seed})")
    return 0
