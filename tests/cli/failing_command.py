"""``obt fail --with KIND``: a command that raises, for the tests of how ``obt_tools.cli.main`` reports errors."""

from __future__ import annotations

import argparse

from obt.config import ConfigError
from obt.errors import UserError
from obt_contract import ContractError

ERRORS = {
    "user": UserError("the thing you asked for is not there"),
    "config": ConfigError("OBT_X must be an integer"),
    "contract": ContractError("not a gs:// URI: '/etc/passwd'"),
    "os": FileNotFoundError(2, "No such file or directory", "/proc/x/index.html"),
    "bug": KeyError("a programming error"),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("fail", help="raise an error", description="Raise the error named by --with.")
    parser.add_argument("--with", dest="kind", choices=sorted(ERRORS), required=True)
    parser.set_defaults(func=lambda args: _raise(ERRORS[args.kind]))


def _raise(error: Exception) -> int:
    raise error
