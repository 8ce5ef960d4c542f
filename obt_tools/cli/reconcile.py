"""``obt reconcile``: publish completion messages for builds whose driver died, or whose message never reached the
load ledger (see ``obt.reconcile.service``)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import timedelta

from obt.errors import TransientError, UserError
from obt.reconcile.service import MAX_GRACE_MINUTES, MAX_LOOKBACK_HOURS, reconcile
from obt.services import Services
from obt_tools.cli import reach


def _number(text: str, unit: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of {unit}: {text!r}") from None


def _hours(text: str) -> float:
    hours = _number(text, "hours")
    if not 0 < hours <= MAX_LOOKBACK_HOURS:
        raise argparse.ArgumentTypeError(f"lookback must be within (0, {MAX_LOOKBACK_HOURS}] hours, got {text}")
    return hours


def _minutes(text: str) -> float:
    minutes = _number(text, "minutes")
    if not 0 <= minutes <= MAX_GRACE_MINUTES:
        raise argparse.ArgumentTypeError(f"grace must be within [0, {MAX_GRACE_MINUTES}] minutes, got {text}")
    return minutes


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="announce OBT builds whose completion message is missing or never reached the load ledger",
        description="For every recent OBT batch that ended: publish its completion message to the build topic "
        "when it has no obt/build_id=B/_PUBLISHED.json (then write the marker), and publish it again when it has "
        "the marker but the load ledger still has no outcome for it after the grace period (a dead-lettered "
        "message). Idempotent; production runs it every 15 minutes (Cloud Scheduler -> reconcile function).",
    )
    parser.add_argument(
        "--lookback-hours",
        type=_hours,
        default=None,
        help="only batches created this recently (default OBT_RECONCILE_LOOKBACK_HOURS, 72)",
    )
    parser.add_argument(
        "--grace-minutes",
        type=_minutes,
        default=None,
        help="publish again only builds announced this long ago without a ledger outcome "
        "(default OBT_RECONCILE_GRACE_MINUTES, 30; 0 right after an outage)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would be published; publish nothing")
    parser.add_argument("--json", action="store_true", help="print the actions as JSON lines")
    reach.add_state_dir(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # A dry run lists batches and reads markers and manifests; publishing needs Pub/Sub too.
    needs = (reach.DATAPROC, reach.STORAGE) + (() if args.dry_run else (reach.PUBSUB,))
    settings = reach.reach(args, *needs).settings
    lookback = timedelta(hours=args.lookback_hours) if args.lookback_hours is not None else None
    grace = timedelta(minutes=args.grace_minutes) if args.grace_minutes is not None else None
    services = Services.from_settings(settings)
    try:
        actions = reconcile(settings, services, lookback=lookback, grace=grace, dry_run=args.dry_run)
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
