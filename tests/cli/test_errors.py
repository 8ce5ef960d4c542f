"""A problem the person can fix is one line on stderr and exit 2; a bug keeps its traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from obt_tools import cli
from tests.insights.obt_fixture import create_obt, obt_records


@pytest.fixture
def with_failing_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "COMMAND_MODULES", (*cli.COMMAND_MODULES, "tests.cli.failing_command"))


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("user", "obt fail: error: the thing you asked for is not there"),
        ("config", "obt fail: error: OBT_X must be an integer"),
        ("contract", "obt fail: error: not a gs:// URI: '/etc/passwd'"),
        ("os", "obt fail: error: /proc/x/index.html: No such file or directory"),
    ],
)
def test_fixable_errors_are_one_line(with_failing_command, capsys, kind: str, line: str) -> None:
    assert cli.main(["fail", "--with", kind]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", line + "\n")


def test_a_bug_keeps_its_traceback(with_failing_command) -> None:
    with pytest.raises(KeyError, match="a programming error"):
        cli.main(["fail", "--with", "bug"])


def _one_line(capsys: pytest.CaptureFixture[str], command: str) -> str:
    captured = capsys.readouterr()
    assert captured.err.startswith(f"obt {command}: error: ") and captured.err.count("\n") == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return captured.err


def test_backfill_of_a_manifest_that_is_not_a_gs_uri(own_environ, capsys) -> None:
    # Pointing at local emulators that are not there: the URI is refused before anything is reached.
    own_environ.update(STORAGE_EMULATOR_HOST="http://127.0.0.1:9", PUBSUB_EMULATOR_HOST="127.0.0.1:9")
    assert cli.main(["backfill", "--manifest", "/etc/passwd"]) == 2
    assert "not a gs:// URI: '/etc/passwd'" in _one_line(capsys, "backfill")


def test_report_into_a_folder_that_cannot_exist(own_environ, tmp_path: Path, capsys) -> None:
    create_obt(tmp_path / "state" / "warehouse.duckdb", obt_records())
    assert cli.main(["report", "--out", "/proc/x", "--state-dir", str(tmp_path / "state")]) == 2
    assert "/proc/x" in _one_line(capsys, "report")


@pytest.mark.parametrize(
    "argv",
    [
        ["seed-postgres", "--csv", "user_purchase.csv"],
        ["extract"],
        ["backfill", "--build-id", "obt-0123456789abcdef0123"],
        ["backfill", "--build-id", "obt-0123456789abcdef0123", "--dry-run"],
        ["reconcile"],
        ["upload", "movie_review.csv"],
    ],
)
def test_without_a_local_cloud_the_error_names_the_state_folder(own_environ, tmp_path: Path, capsys, argv) -> None:
    (tmp_path / "movie_review.csv").write_text("cid,review_str,id_review\n")
    assert cli.main([*argv, "--state-dir", str(tmp_path / "nowhere")]) == 2
    line = _one_line(capsys, argv[0])
    assert f"no local cloud is running under {tmp_path / 'nowhere'}" in line
    assert f"obt local up --state-dir {tmp_path / 'nowhere'}" in line and "OBT_ENV=gcp" in line
