"""``obt``: the command line. Each command lives next to the code it drives and registers itself here."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from obt.config import ConfigError
from obt.errors import UserError

# Modules exposing ``register(subparsers)``; each sub-parser sets ``func(args) -> int``.
COMMAND_MODULES: tuple[str, ...] = (
    "obt_tools.cli.reconcile",
    "obt_tools.cli.generate",
    "obt_tools.cli.local",
    "obt_tools.cli.extract",
    "obt_tools.cli.backfill",
    "obt_tools.cli.status",
    "obt_tools.cli.report",
    "obt_tools.cli.dashboard",
    "obt_tools.cli.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obt", description="Event-driven OBT pipeline: local cloud, stages, backfills and reports."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (UserError, ConfigError) as exc:
        print(f"obt {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"obt {args.command}: interrupted", file=sys.stderr)
        return 130
