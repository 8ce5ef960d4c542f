"""The Cloud Functions, each served by functions-framework on its own port (so a person can curl them).

A function is served only when its source exists (``functions/NAME/main.py``), so the stack starts whatever
has been written. Readiness is the port accepting connections: the framework imports the function before it
binds, and probing with a request would *run* an HTTP function.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from obt_tools.local import procs


@dataclass(frozen=True)
class FunctionSpec:
    name: str
    target: str
    signature: str  # "http" or "cloudevent"

    def source(self, repo_root: Path) -> Path:
        return repo_root / "functions" / self.name / "main.py"


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("extract_postgres", "extract_postgres", "http"),
    # The event functions parse their CloudEvents themselves, to answer in JSON (obt.responses).
    FunctionSpec("on_raw_landed", "on_raw_landed", "http"),
    FunctionSpec("load_obt", "load_obt", "http"),
    FunctionSpec("reconcile", "reconcile", "http"),
)


def available(repo_root: Path) -> list[FunctionSpec]:
    return [spec for spec in FUNCTIONS if spec.source(repo_root).is_file()]


def framework_command() -> list[str]:
    script = Path(sys.executable).parent / "functions-framework"
    return [str(script)] if script.exists() else [sys.executable, "-m", "functions_framework"]


def start_function(
    state_dir: Path,
    name: str,
    target: str,
    signature: str,
    source: Path,
    env: Mapping[str, str],
    *,
    port: int | None = None,
    cwd: Path | None = None,
    wait: bool = True,
    die_with_parent: bool = False,
) -> procs.Service:
    """Serve ``target`` from ``source`` with functions-framework (``env`` on top of ours); with ``wait=False``
    the caller waits (``procs.wait_for_port``), so several functions can start at once."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    if cwd:
        full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(cwd), full_env.get("PYTHONPATH", "")) if p)

    def launch(chosen: int) -> procs.Service:
        argv = [
            *framework_command(),
            "--target",
            target,
            "--source",
            str(source),
            "--signature-type",
            signature,
            "--host",
            procs.HOST,
            "--port",
            str(chosen),
        ]
        url = f"http://{procs.HOST}:{chosen}"
        service = procs.start(
            name, argv, state_dir, port=chosen, url=url, env=full_env, cwd=cwd, die_with_parent=die_with_parent
        )
        if wait:
            procs.wait_for_port(service, timeout=120)
        return service

    return procs.with_port(name, port, launch) if wait else launch(procs.choose_port(name, port))


def start_spec(
    state_dir: Path,
    spec: FunctionSpec,
    repo_root: Path,
    env: Mapping[str, str],
    port: int | None = None,
    wait: bool = True,
    die_with_parent: bool = False,
) -> procs.Service:
    source = spec.source(repo_root)
    return start_function(
        state_dir,
        spec.name,
        spec.target,
        spec.signature,
        source,
        env,
        port=port,
        cwd=repo_root,
        wait=wait,
        die_with_parent=die_with_parent,
    )
