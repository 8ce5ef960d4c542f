"""``obt dlq list|replay``: the completion messages load_obt's trigger gave up on (see ``obt_tools.dlq``)."""

from __future__ import annotations

import argparse
import json

from obt.config import Settings
from obt.errors import UserError
from obt.services import Services
from obt_tools import dlq
from obt_tools.cli import reach
from obt_tools.local.pubsub import DLQ_SUBSCRIPTION


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dlq",
        help="list or replay dead-lettered completion messages",
        description="Completion messages load_obt could not take within its delivery attempts wait in the "
        f"dead-letter subscription ({DLQ_SUBSCRIPTION}). `list` shows them without consuming any; `replay` "
        "publishes each again to the build topic and acknowledges it only once published (the loader skips what "
        "it has loaded, so replaying twice loads once). OBT_ENV=local (the default) talks to the local cloud's "
        "emulator, OBT_ENV=gcp to Google Cloud. `obt reconcile` closes the same gap by itself after its grace period.",
    )
    actions = parser.add_subparsers(dest="dlq_command", metavar="ACTION", required=True)
    for name, func, text in (
        ("list", run_list, "show every dead letter: build id, status, origin, publish time, delivery attempts"),
        ("replay", run_replay, "publish every dead letter again to the build topic, then acknowledge it"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument(
            "--subscription", default=DLQ_SUBSCRIPTION, help=f"dead-letter subscription (default {DLQ_SUBSCRIPTION})"
        )
        action.add_argument("--json", action="store_true", help="one JSON object a line instead of text")
        action.add_argument(
            "--wait",
            type=float,
            default=dlq.PULL_WAIT_SECONDS,
            metavar="SECONDS",
            help=f"how long a pull waits for more messages before the listing ends (default {dlq.PULL_WAIT_SECONDS:g})",
        )
        reach.add_state_dir(action)
        action.set_defaults(func=func)


def _settings(args: argparse.Namespace) -> Settings:
    return reach.reach(args, reach.PUBSUB).settings


def _fields(letter: dlq.DeadLetter) -> dict[str, object]:
    return {
        "message_id": letter.message_id,
        "build_id": letter.build_id,
        "status": letter.status,
        "origin": letter.origin,
        "published_at": letter.published_at.isoformat(),
        "delivery_attempts": letter.delivery_attempts,
        "problem": letter.problem,
    }


def _line(letter: dlq.DeadLetter) -> str:
    attempts = "?" if letter.delivery_attempts is None else str(letter.delivery_attempts)
    text = (
        f"{letter.build_id or '-':<24}  {letter.status or '-':<9}  {letter.origin or '-':<9}  "
        f"{letter.published_at:%Y-%m-%d %H:%M:%S}  {attempts:>8}  {letter.message_id}"
    )
    return text + (f"  ({letter.problem})" if letter.problem else "")


HEADER = f"{'build_id':<24}  {'status':<9}  {'origin':<9}  {'published (UTC)':<19}  {'attempts':>8}  message"


def run_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    subscription = dlq.subscription_path(settings, args.subscription)
    letters = dlq.list_dead_letters(settings, subscription, args.wait)
    if args.json:
        for letter in letters:
            print(json.dumps(_fields(letter), sort_keys=True))
        return 0
    if letters:
        print(HEADER)
    for letter in letters:
        print(_line(letter))
    print(f"{len(letters)} dead-lettered message(s) in {subscription}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    settings = _settings(args)
    subscription = dlq.subscription_path(settings, args.subscription)
    report = dlq.replay(settings, Services.from_settings(settings), subscription, args.wait)
    for result in report.results:
        letter = result.letter
        if args.json:
            print(json.dumps({**_fields(letter), "outcome": result.outcome, "detail": result.detail}, sort_keys=True))
        elif result.outcome == "replayed":
            print(f"replayed {letter.build_id} ({letter.status}) to {settings.topic_path}: message {result.detail}")
        elif result.outcome == "copy":
            print(f"acknowledged {letter.build_id} ({letter.status}): a copy of the one replayed as {result.detail}")
        else:
            print(f"kept message {letter.message_id} ({letter.build_id or 'no build id'}): {result.detail}")
    if report.error:
        raise UserError(report.error)
    if not report.results and not args.json:
        print(f"no dead-lettered messages in {subscription}")
    return 1 if any(r.outcome == "kept" for r in report.results) else 0
