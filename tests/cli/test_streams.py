"""Streams: a command's answer on stdout, its logs on stderr (``--log-format``, ``-v``), in a real ``obt`` process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from obt.config import Settings
from obt_tools.local import procs
from tests.cli.conftest import log_lines, run_obt
from tests.load_obt.builds import build_id, upload_build
from tests.warehouse.obt_rows import make_rows


def test_generate_answers_on_stdout_without_log_lines(tmp_path: Path) -> None:
    result = run_obt("generate", "--scale", "0.001", "--out", str(tmp_path / "g"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert log_lines(result.stdout) == []
    assert result.stdout.splitlines() == [
        f"{tmp_path / 'g' / 'user_purchase.csv'}: 542 rows (scale 0.001, seed 0)",
        f"{tmp_path / 'g' / 'movie_review.csv'}: 100 rows (scale 0.001, seed 0)",
        f"{tmp_path / 'g' / 'log_reviews.csv'}: 101 rows (scale 0.001, seed 0)",
    ]


def test_local_commands_without_a_cloud(tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    status = run_obt("local", "status", "--state-dir", state, cwd=tmp_path)
    assert (status.returncode, status.stdout) == (1, f"local cloud not running (no {state}/stack.json)\n")
    env = run_obt("local", "env", "--state-dir", state, cwd=tmp_path)
    assert (env.returncode, env.stdout) == (2, "")
    assert env.stderr.startswith("obt local: error: the local cloud is not running") and env.stderr.count("\n") == 1
    down = run_obt("local", "down", "--state-dir", state, cwd=tmp_path)
    assert (down.returncode, down.stdout, down.stderr) == (0, "nothing was running\n", "")


def test_local_down_logs_on_stderr_only(tmp_path: Path) -> None:
    state = procs.ensure_state_dir(tmp_path / "state")
    procs.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], state, port=0, url="")
    result = run_obt("-v", "--log-format", "json", "local", "down", "--state-dir", str(state), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "stopped: sleeper\n"
    logged = [json.loads(line) for line in log_lines(result.stderr)]
    assert any(entry["message"] == "local cloud stopped" for entry in logged)


def test_info_log_lines_are_hidden_by_default(tmp_path: Path) -> None:
    state = procs.ensure_state_dir(tmp_path / "state")
    procs.start("sleeper", [sys.executable, "-c", "import time; time.sleep(120)"], state, port=0, url="")
    quiet = run_obt("local", "down", "--state-dir", str(state), cwd=tmp_path)
    assert (quiet.stdout, quiet.stderr) == ("stopped: sleeper\n", "")  # its log lines are INFO: hidden by default


def test_status_and_backfill_dry_run_answer_without_log_lines(gcs_emulator, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OBT_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("OBT_WAREHOUSE_PATH", raising=False)
    build = build_id(f"streams-{tmp_path.name}")
    upload_build(Settings.from_env(), tmp_path, build, make_rows(3), watermark=1)
    storage = {"STORAGE_EMULATOR_HOST": gcs_emulator.url}
    state = str(tmp_path / "state")

    status = run_obt("-vv", "status", "--state-dir", state, cwd=tmp_path, env=storage)
    assert status.returncode == 0, status.stderr
    assert log_lines(status.stdout) == [] and build in status.stdout

    dry = run_obt("-vv", "backfill", "--dry-run", "--build-id", build, "--state-dir", state, cwd=tmp_path, env=storage)
    assert dry.returncode == 0, dry.stderr
    assert log_lines(dry.stdout) == []
    first, local, production = dry.stdout.splitlines()
    assert first.startswith(f"{build} (succeeded): would publish {{")
    assert local == f"  local:      obt backfill --state-dir {state} --build-id {build}"
    assert production.startswith("  production: gcloud pubsub topics publish obt-build-complete --project PROJECT ")
    assert "obt-local" not in production and f"gs://CURATED/obt/build_id={build}/_MANIFEST.json" in production
