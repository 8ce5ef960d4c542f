"""Helpers for the ``obt`` command's tests: an environment of the test's own, and ``obt`` as a separate process.

``own_environ`` swaps ``os.environ`` for a copy without any variable that points at a local service, with
``OBT_STATE_DIR`` in the test's folder: ``obt_tools.cli.reach`` writes a running cloud's variables into the
environment, and a developer's ``.obt`` must never leak in. ``run_obt`` runs the real entry point in a child
process, the only way to see which stream a line lands on (a log handler set up at import keeps the stream it
found then, which pytest's capture would hide in-process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from obt_tools.cli import reach

REPO = Path(__file__).resolve().parents[2]
SERVICE_VARIABLES = sorted({name for names in reach.LOCAL_ADDRESS.values() for name in names})


@pytest.fixture
def own_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES and k != "OBT_WAREHOUSE_PATH"}
    environ.update(OBT_ENV="local", OBT_STATE_DIR=str(tmp_path / "state"))
    monkeypatch.setattr(os, "environ", environ)
    monkeypatch.chdir(tmp_path)
    return environ


def run_obt(*args: str, cwd: Path, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    # Only the services the test names are reachable; everything else is the test process's environment.
    base = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    full_env = {**base, **(env or {}), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "obt_tools", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=120
    )


def log_lines(text: str) -> list[str]:
    """The lines of ``text`` that are JSON log entries (obt.log.JsonFormatter)."""
    found = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "severity" in entry:
            found.append(line)
    return found
