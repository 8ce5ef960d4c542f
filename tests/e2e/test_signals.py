"""SIGTERM ends `obt demo` as Ctrl-C does: promptly, in one line, and with the whole local cloud stopped, the
Spark driver it was waiting on included (``timeout 60 obt demo`` used to orphan all of it)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from obt_tools.local import procs, stack

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def spark_drivers(state_dir: Path) -> list[int]:
    """The Spark JVMs the local Dataproc endpoint of ``state_dir`` runs."""
    found = []
    for pid in procs.marked_processes(state_dir):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv[0].endswith(b"java") and any(arg.startswith(b"spark.obt.localBatchId=") for arg in argv):
            found.append(pid)
    return found


def job_running(state_dir: Path) -> bool:
    return any('"build started"' in log.read_text() for log in state_dir.glob("dataproc/batches/*/driver.log"))


def test_sigterm_while_the_spark_job_runs_stops_the_demo_and_its_whole_local_cloud(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    argv = [sys.executable, "-m", "obt_tools", "demo", "--scale", "0.02", "--state-dir", str(state_dir), "--no-tagger"]
    with out.open("w") as stdout, err.open("w") as stderr:
        demo = subprocess.Popen([*argv, "--ingest-date", "2026-11-20"], stdout=stdout, stderr=stderr, cwd=REPO)
    try:
        deadline = time.monotonic() + 300
        # Until the job itself runs: its Python driver logged its first line through the JVM.
        while not (job_running(state_dir) and (drivers := spark_drivers(state_dir))):
            assert demo.poll() is None, f"obt demo ended early: {err.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "no Spark job running within 300 s"
            time.sleep(0.5)
        services = [int(s["pid"]) for s in json.loads(stack.stack_path(state_dir).read_text())["services"].values()]
        assert len(services) >= 9

        demo.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        code = demo.wait(timeout=90)
        took = time.monotonic() - sent
    finally:
        if demo.poll() is None:
            demo.kill()
        stack.down(state_dir)

    assert code == 128 + signal.SIGTERM, err.read_text()[-2000:]
    assert took < 60
    lines = [line for line in err.read_text().splitlines() if line.strip()]
    assert "Traceback" not in err.read_text()
    assert lines[-1] == "obt demo: stopped by SIGTERM; local cloud stopped"
    assert not [pid for pid in services + drivers if procs.pid_alive(pid)], "a process of the stack survived"
    assert procs.marked_processes(state_dir) == []
    assert not stack.stack_path(state_dir).exists()
