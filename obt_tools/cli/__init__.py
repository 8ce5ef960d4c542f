"""``obt``: the command line. Each command lives next to the code it drives and registers itself here.

Streams: a command's answer goes to stdout; logs go to stderr (``--log-format``, ``-v``; see ``obt.log``).
Global options are accepted before or after the command (``obt -v status`` and ``obt status -v``).

Errors: a command's problem the person running it can fix is one line on stderr and exit 2, never a traceback.
That is ``UserError`` and ``ConfigError`` (raised for that purpose), ``obt_contract.ContractError`` (a name, URI or
message that does not follow the contract: it always comes from input) and ``OSError`` (a path that cannot be read
or written, a refused connection: the machine's state, not the code's). Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import sys
from collections.abc import Sequence
from datetime import date

from obt import log
from obt.config import ConfigError
from obt.errors import UserError
from obt_contract import ContractError

# Modules exposing ``register(subparsers)``; each sub-parser sets ``func(args) -> int``.
COMMAND_MODULES: tuple[str, ...] = (
    "obt_tools.cli.reconcile",
    "obt_tools.cli.generate",
    "obt_tools.cli.local",
    "obt_tools.cli.extract",
    "obt_tools.cli.upload",
    "obt_tools.cli.backfill",
    "obt_tools.cli.dlq",
    "obt_tools.cli.status",
    "obt_tools.cli.report",
    "obt_tools.cli.dashboard",
    "obt_tools.cli.demo",
    "obt_tools.cli.tagger",
)

DISTRIBUTION = "obt-pipeline"


def _version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _add_log_options(parser: argparse.ArgumentParser, top: bool) -> None:
    # A sub-command's default is SUPPRESS, so that it does not reset an option given before the command.
    parser.add_argument(
        "--log-format",
        choices=log.LOG_FORMATS,
        default="text" if top else argparse.SUPPRESS,
        help="log lines on stderr as text (default) or JSON",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="more log lines on stderr: -v info, -vv debug (default: warnings and errors)",
    )


def _subparsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every sub-parser below ``parser``, nested ones (``obt local up``) included."""
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                found += [sub, *_subparsers(sub)]
    return found


def iso_date(text: str) -> date:
    """An argparse type for a YYYY-MM-DD argument, shared by the commands that take a day."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="obt", description="Event-driven OBT pipeline: local cloud, stages, backfills and reports."
    )
    parser.add_argument("--version", action="version", version=f"obt {_version()}")
    _add_log_options(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    for sub in _subparsers(parser):
        _add_log_options(sub, top=False)
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with log.cli_logging(args.log_format, args.verbose):
        try:
            return int(args.func(args) or 0)
        except (UserError, ConfigError, ContractError, OSError) as exc:
            print(f"obt {args.command}: error: {_one_line(exc)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print(f"obt {args.command}: interrupted", file=sys.stderr)
            return 130
