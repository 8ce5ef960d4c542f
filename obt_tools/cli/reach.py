"""How a command reaches the services it talks to: one way for every command, ``--state-dir``.

Every command that talks to a service adds :func:`add_state_dir` to its parser and calls :func:`reach` with the
services it needs; nobody has to ``eval "$(obt local env)"`` first (that stays for shells). Decisions:

- ``OBT_ENV=gcp``: Google Cloud, configured by the environment; no state folder is read.
- ``OBT_ENV=local`` (the default): the local cloud running under the state folder (``--state-dir``, else
  ``$OBT_STATE_DIR``, else ``.obt``). Its ``stack.json`` environment is applied over the process's, because it says
  where the services listen *now*: it beats variables left by an ``eval`` of an earlier run on other ports.
- Without a running local cloud there, variables that already point at local services (tests, a hand-started
  emulator) are used, except those equal to the stopped cloud's own (an ``eval`` of it: nothing listens there).
  A service the command needs with nothing local to point at is a one-line error naming the state folder and any
  running local cloud next to it: in local mode the Google clients must never fall through to Google Cloud.
- An explicit ``--state-dir`` also names the warehouse (``STATE/warehouse.duckdb``): it beats ``OBT_WAREHOUSE_PATH``.

The Google client libraries read ``STORAGE_EMULATOR_HOST`` and ``PUBSUB_EMULATOR_HOST`` from the process
environment, so that is what :func:`reach` updates (then it drops the cached clients).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path

from obt import clients
from obt.config import Settings
from obt.errors import UserError
from obt_tools.local import stack

STORAGE, PUBSUB, DATAPROC, POSTGRES = "storage", "pubsub", "dataproc", "postgres"
# What points each service at a local address; any one of a service's variables is enough.
LOCAL_ADDRESS: dict[str, tuple[str, ...]] = {
    STORAGE: ("STORAGE_EMULATOR_HOST",),
    PUBSUB: ("PUBSUB_EMULATOR_HOST",),
    DATAPROC: ("OBT_DATAPROC_ENDPOINT",),
    POSTGRES: ("OBT_PG_HOST", "OBT_PG_PORT"),
}
DEFAULT_STATE_DIR = Path(".obt")


@dataclass(frozen=True)
class Reach:
    settings: Settings
    state_dir: Path
    # The local cloud of ``state_dir`` is up (never on GCP).
    running: bool
    # The services this process can talk to now.
    services: frozenset[str]


def add_state_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="local cloud state folder whose running services and warehouse to use "
        "(default: $OBT_STATE_DIR or .obt; ignored with OBT_ENV=gcp)",
    )


def state_dir(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    explicit = getattr(args, "state_dir", None)
    if explicit is not None:
        return Path(explicit)
    return Path(environ.get("OBT_STATE_DIR", "").strip() or DEFAULT_STATE_DIR)


def running_elsewhere(not_this: Path) -> list[Path]:
    """Local clouds running in folders next to the working directory (``.obt-real`` …), for the error message."""
    found = []
    for record in sorted(Path().glob(f"*/{stack.STACK_FILE}")):
        folder = record.parent
        if folder.resolve() != not_this.resolve() and stack.running(folder):
            found.append(folder)
    return found


def _not_reachable(state: Path, missing: list[str], stale: bool) -> UserError:
    variables = ", ".join(" or ".join(LOCAL_ADDRESS[name]) for name in missing)
    where = (
        f"the local cloud under {state} is not running (its services are gone)"
        if stale
        else f"no local cloud is running under {state} (no {stack.stack_path(state)})"
    )
    others = running_elsewhere(state)
    hint = f"pass --state-dir {others[0]} (running there), " if others else ""
    return UserError(
        f"{where} and nothing points at a local {' / '.join(missing)} ({variables}): {hint}"
        f"start it with `obt local up --state-dir {state}`, or set OBT_ENV=gcp to use Google Cloud"
    )


def reach(args: argparse.Namespace, *needs: str, environ: MutableMapping[str, str] | None = None) -> Reach:
    """The settings to reach ``needs`` (``STORAGE``, ``PUBSUB``, ``DATAPROC``, ``POSTGRES``); see the module doc."""
    environ = os.environ if environ is None else environ
    state = state_dir(args, environ)
    if getattr(args, "state_dir", None) is not None:
        environ["OBT_STATE_DIR"] = str(state)
        environ.pop("OBT_WAREHOUSE_PATH", None)
    if environ.get("OBT_ENV", "local").strip() == "gcp":
        return Reach(Settings.from_env(environ), state, running=False, services=frozenset(LOCAL_ADDRESS))
    record = stack.read_stack(state)
    running = record is not None and stack.running(state)
    if running:
        environ.update(record["env"])
    elif record is not None:
        # Left by an `eval "$(obt local env)"` of this very cloud: they point at services that are gone.
        for name, value in record["env"].items():
            if environ.get(name) == value:
                del environ[name]
    clients.reset()
    services = frozenset(name for name, names in LOCAL_ADDRESS.items() if any(environ.get(v) for v in names))
    missing = [name for name in needs if name not in services]
    if missing:
        raise _not_reachable(state, missing, stale=record is not None and not running)
    return Reach(Settings.from_env(environ), state, running, services)
