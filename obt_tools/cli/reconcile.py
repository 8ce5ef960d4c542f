"""``obt reconcile``: publish completion messages for builds whose driver died (see ``obt.reconcile.service``)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import timedelta

from obt.config import Settings
from obt.errors import TransientError, UserError
from obt.reconcile.service import reconcile
from obt.services import Services


def _hours(text: str) -> float:
    try:
        hours = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {text!r}") from None
    if not 0 < hours <= 24 * 60:
        raise argparse.ArgumentTypeError(f"lookback must be within (0, 1440] hours, got {text}")
    return hours


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="announce OBT batches that ended without a completion message",
        description="List recent OBT batches that ended FAILED, CANCELLED or SUCCEEDED without "
        "obt/build_id=B/_PUBLISHED.json, publish their completion message to the build topic and write "
        "the marker. Idempotent; production runs it every 15 minutes (Cloud Scheduler -> reconcile function).",
    )
    parser.add_argument(
        "--lookback-hours",
        type=_hours,
        default=None,
        help="only batches created this recently (default OBT_RECONCILE_LOOKBACK_HOURS, 72)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be published; publish nothing")
    parser.add_argument("--json", action="store_true", help="print the actions as JSON lines")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    lookback = timedelta(hours=args.lookback_hours) if args.lookback_hours is not None else None
    try:
        actions = reconcile(settings, Services.from_settings(settings), lookback=lookback, dry_run=args.dry_run)
    except TransientError as exc:
        raise UserError(str(exc)) from exc
    for action in actions:
        if args.json:
            print(json.dumps(asdict(action), sort_keys=True))
        else:
            detail = f" status={action.status}" if action.status else ""
            detail += f" ({action.reason})" if action.reason else ""
            print(f"{action.build_id} {action.batch_state}: {action.action}{detail}")
    if not actions and not args.json:
        print("no ended OBT batches in the lookback window")
    return 1 if any(a.action == "error" for a in actions) else 0
