"""``obt local up|down|status|env``: the local cloud from the command line."""

from __future__ import annotations

import argparse
import os
import shlex
from collections.abc import Callable
from pathlib import Path

from obt_tools.cli import reach
from obt_tools.local import stack


def _state_dir(args: argparse.Namespace) -> Path:
    return reach.state_dir(args).absolute()


def cmd_up(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    stack.up(state_dir, ports=stack.parse_ports(args.port), duplicates=args.duplicates)
    print(stack.format_status(stack.status(state_dir)))
    folder = shlex.quote(str(state_dir))
    print(f"\nlogs: {state_dir / 'logs'}")
    print(
        f'obt commands reach it with --state-dir {folder}; other programs: eval "$(obt local env --state-dir {folder})"'
    )
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    stopped = stack.down(_state_dir(args))
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    rows = stack.status(_state_dir(args))
    if not rows:
        print(f"local cloud not running (no {stack.stack_path(_state_dir(args))})")
        return 1
    print(stack.format_status(rows))
    return 0 if all(r.alive for r in rows) else 1


def cmd_env(args: argparse.Namespace) -> int:
    for name, value in sorted(stack.stack_env(_state_dir(args)).items()):
        print(f"export {name}={shlex.quote(value)}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "local",
        help="start, stop and inspect the local cloud (emulators + functions)",
        description="The local cloud: PostgreSQL, the storage and Pub/Sub emulators, a local Dataproc endpoint, the "
        "four functions and the Eventarc stand-in on 127.0.0.1, all state in one folder (logs in STATE/logs).",
    )
    commands = parser.add_subparsers(dest="local_command", metavar="ACTION", required=True)

    def add(name: str, help_text: str, func: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text[0].upper() + help_text[1:] + ".")
        reach.add_state_dir(sub)
        sub.set_defaults(func=func)
        return sub

    up = add("up", "start every service on 127.0.0.1 (cleans a crashed previous run first)", cmd_up)
    up.add_argument(
        "--port",
        action="append",
        metavar="NAME=PORT",
        help=f"fixed port for a service (repeatable); NAME in {', '.join(stack.FIXED_PORT_SERVICES)}",
    )
    up.add_argument(
        "--duplicates",
        type=int,
        default=int(os.environ.get("OBT_EVENTARC_DUPLICATES", "1") or 1),
        help="the Eventarc stand-in delivers every event this many times (default 1)",
    )
    add("down", "stop every service and verify none is left", cmd_down)
    add("status", "print the services, their pids, URLs and whether they are alive", cmd_status)
    add("env", "print `export VAR=value` lines to reach the running local cloud", cmd_env)
