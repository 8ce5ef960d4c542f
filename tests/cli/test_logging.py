"""``obt.log``: JSON on stdout for the functions (unchanged), text or JSON on stderr for the CLI while it runs."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from obt import log
from tests.cli.conftest import REPO

EMIT = "from obt import log; log.get_logger('obt.test').info('build submitted', build_id='obt-1', reason='all in')"


def test_the_functions_keep_json_lines_on_stdout() -> None:
    result = subprocess.run([sys.executable, "-c", EMIT], cwd=REPO, capture_output=True, text=True, timeout=60)
    entry = json.loads(result.stdout)
    assert (entry["severity"], entry["message"], entry["build_id"], entry["logger"]) == (
        "INFO",
        "build submitted",
        "obt-1",
        "obt.test",
    )
    assert result.stderr == ""


def test_cli_text_lines_on_stderr_with_fields(capsys: pytest.CaptureFixture[str]) -> None:
    with log.cli_logging("text", verbosity=1):
        log.get_logger("obt.test").info("build submitted", build_id="obt-1", reason="all inputs present", missing=[])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith(' INFO obt.test: build submitted build_id=obt-1 reason="all inputs present"\n'), (
        captured.err
    )


@pytest.mark.parametrize(("verbosity", "level"), [(0, logging.WARNING), (1, logging.INFO), (2, logging.DEBUG), (5, 10)])
def test_verbosity_levels(verbosity: int, level: int) -> None:
    assert log.cli_level(verbosity) == level


def test_cli_logging_is_undone_on_exit(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    with log.cli_logging("json", verbosity=0):
        log.get_logger("obt.test").info("hidden")
        log.get_logger("obt.test").warning("shown", n=1)
    assert (root.handlers, root.level) == before
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["message"] == "shown"
