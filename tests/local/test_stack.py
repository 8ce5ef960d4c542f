"""``obt local up|down|status``: one-line errors, the real stack end to end, crash recovery, nothing left behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from obt_tools.local import procs, stack

REPO = Path(__file__).resolve().parents[2]


def obt(*args: str, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "obt_tools", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=timeout,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip() and not line.startswith("{")]
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_fixed_port_in_use_is_a_one_line_error(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = obt("local", "up", "--state-dir", str(tmp_path / "s"), "--port", f"gcs={port}")
    assert_one_line_error(result, f"port {port}", "in use")
    assert not procs.marked_processes(tmp_path / "s")


def test_bad_port_spec_is_a_one_line_error(tmp_path):
    assert_one_line_error(obt("local", "up", "--state-dir", str(tmp_path), "--port", "nosuch=1"), "NAME=PORT")


def test_missing_java_is_a_one_line_error(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent), "JAVA_HOME": ""}
    assert_one_line_error(obt("local", "up", "--state-dir", str(tmp_path), env=env), "Java not found", "install")


def test_missing_pubsub_emulator_is_a_one_line_error(tmp_path):
    env = {"OBT_PUBSUB_EMULATOR": str(tmp_path / "no-emulator")}
    result = obt("local", "up", "--state-dir", str(tmp_path / "s"), env=env)
    assert_one_line_error(result, "Pub/Sub emulator not found", "install")


def test_missing_postgres_is_a_one_line_error(tmp_path):
    java_home = Path(shutil.which("java") or "/usr/bin/java").resolve().parents[1]
    env = {"OBT_PG_BIN": str(tmp_path / "no-pg"), "PATH": str(Path(sys.executable).parent), "JAVA_HOME": str(java_home)}
    result = obt("local", "up", "--state-dir", str(tmp_path / "s"), env=env)
    assert_one_line_error(result, "PostgreSQL server binary", "install")


def test_unwritable_state_folder_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert_one_line_error(obt("local", "up", "--state-dir", str(blocker / "state")), "not writable")


def test_status_and_env_when_not_running(tmp_path):
    result = obt("local", "status", "--state-dir", str(tmp_path))
    assert result.returncode == 1 and "not running" in result.stdout
    assert_one_line_error(obt("local", "env", "--state-dir", str(tmp_path)), "not running")


def test_down_when_nothing_runs(tmp_path):
    result = obt("local", "down", "--state-dir", str(tmp_path))
    assert result.returncode == 0 and "nothing was running" in result.stdout


def _eventarc_lines(state_dir: Path) -> list[dict]:
    text = (state_dir / "logs" / "eventarc.log").read_text()
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def _wait_for_delivery(state_dir: Path, route: str, match, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in _eventarc_lines(state_dir):
            if line.get("route") == route and "status" in line and match(line):
                return line
        time.sleep(0.5)
    raise AssertionError(f"no delivery to {route} within {timeout}s")


def _all_pids(state_dir: Path) -> list[int]:
    return [row.pid for row in stack.status(state_dir)]


@pytest.mark.slow
def test_stack_up_delivers_events_survives_a_crash_and_leaves_nothing(tmp_path):
    state_dir = tmp_path / "state"
    try:
        result = obt("local", "up", "--state-dir", str(state_dir))
        assert result.returncode == 0, result.stderr[-2000:]
        rows = stack.status(state_dir)
        names = {row.name for row in rows}
        assert {"postgres", "pubsub", "gcs"} <= names and all(row.alive for row in rows)
        recorded = json.loads((state_dir / "stack.json").read_text())
        assert set(recorded) == {"services", "env"}
        assert all(set(s) == {"pid", "port", "url"} for s in recorded["services"].values())
        env = stack.stack_env(state_dir)
        assert env["OBT_ENV"] == "local" and env["OBT_STATE_DIR"] == str(state_dir)

        # Running again while healthy changes nothing.
        assert obt("local", "up", "--state-dir", str(state_dir)).returncode == 0
        assert [row.pid for row in stack.status(state_dir)] == [row.pid for row in rows]

        if {"on_raw_landed", "load_obt", "eventarc"} <= names:
            _check_real_deliveries(state_dir, env)

        # A crash: some services die, the rest keep running with a stale stack.json.
        before = _all_pids(state_dir)
        for row in rows:
            if row.name in ("gcs", "eventarc"):
                os.killpg(row.pid, signal.SIGKILL)
        assert obt("local", "status", "--state-dir", str(state_dir)).returncode == 1
        result = obt("local", "up", "--state-dir", str(state_dir))
        assert result.returncode == 0, result.stderr[-2000:]
        assert not [pid for pid in before if procs.pid_alive(pid)], "previous run's processes survived"
        assert all(row.alive for row in stack.status(state_dir))
        after = _all_pids(state_dir)
    finally:
        down = obt("local", "down", "--state-dir", str(state_dir))
    assert down.returncode == 0, down.stderr
    assert not [pid for pid in after if procs.pid_alive(pid)]
    assert not procs.marked_processes(state_dir)
    assert not (state_dir / "stack.json").exists()


def _check_real_deliveries(state_dir: Path, env: dict[str, str]) -> None:
    """Upload an object (the real on_raw_landed gets it) and publish a message (the real load_obt gets it)."""
    script = f"""
import json, sys
from obt import clients
client = clients.storage_client("{env["OBT_PROJECT"]}")
name = "movie_review/ingest_date=2026-02-01/{uuid.uuid4().hex}.csv"
client.bucket("{env["OBT_RAW_BUCKET"]}").blob(name).upload_from_string(b"cid,review_str,review_id\\n1,good,1\\n")
publisher = clients.publisher_client()
body = json.dumps({{"build_id": "obt-{uuid.uuid4().hex[:20]}", "manifest_uri": "gs://nowhere/x", "status": "failed"}})
topic = publisher.topic_path("{env["OBT_PROJECT"]}", "obt-build-complete")
message_id = publisher.publish(topic, body.encode()).result(30)
print(json.dumps({{"name": name, "message_id": message_id}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env={**os.environ, **env}, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    sent = json.loads(result.stdout.strip().splitlines()[-1])
    stored = _wait_for_delivery(state_dir, "on_raw_landed", lambda d: d["subject"] == f"objects/{sent['name']}")
    assert stored["status"] == 200 and stored["event_type"] == "google.cloud.storage.object.v1.finalized"
    published = _wait_for_delivery(state_dir, "load_obt", lambda d: d["event_id"] == sent["message_id"])
    assert published["event_type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    assert published["status"] != 0, "load_obt was unreachable"


@pytest.mark.slow
def test_sigterm_while_starting_stops_what_did_start(tmp_path):
    state_dir = tmp_path / "state"
    argv = [sys.executable, "-m", "obt_tools", "local", "up", "--state-dir", str(state_dir)]
    up = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        deadline = time.monotonic() + 120
        while len(procs.recorded(state_dir)) < 2:  # PostgreSQL and Pub/Sub are starting
            assert up.poll() is None and time.monotonic() < deadline, up.stderr.read() if up.stderr else ""
            time.sleep(0.1)
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=60)
        left = procs.marked_processes(state_dir)
    finally:
        if up.poll() is None:
            up.kill()
        stack.down(state_dir)
    assert up.returncode == 130 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()][-1] == "obt local: interrupted"
    assert left == [], "services started before the signal survived it"
