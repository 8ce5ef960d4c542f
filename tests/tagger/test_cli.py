"""``obt tagger``: the figures it prints, and one error line with exit 2 for every bad input."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from obt_tools.cli import main

from .conftest import Trained, write_labels


def test_train_prints_model_and_rule_figures(trained: Trained) -> None:
    out = trained.stdout
    assert "3-fold cross-validation, folds by distinct text" in out
    assert re.search(r"^accuracy\s+\d\.\d{4}\s+0\.5000$", out, re.M), out
    assert f"model {trained.card['model_version']} saved to {trained.out}" in out
    assert (trained.out / "metadata").is_dir() and (trained.out / "model_card.json").is_file()


def test_evaluate_ends_with_the_accuracy_line(trained: Trained, sample_file: Path, capsys) -> None:
    assert main(["tagger", "evaluate", "--model", str(trained.out), "--labels", str(sample_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"model {trained.card['model_version']} at {trained.out}"
    assert [line.split(":")[0] for line in lines[-5:]] == ["precision", "recall", "f1", "roc_auc", "accuracy"]
    assert lines[-1] == "accuracy: 1.0000"


def bad_inputs(tmp: Path, sample_file: Path) -> list[list[str]]:
    wrong_columns = write_labels(tmp / "wrong.csv", [("x", "positive")], header=("text", "label"))
    not_a_model = tmp / "folder"
    not_a_model.mkdir()
    return [
        ["train", "--labels", str(tmp / "missing.csv"), "--out", str(tmp / "m")],
        ["train", "--labels", str(wrong_columns), "--out", str(tmp / "m")],
        ["train", "--labels", str(sample_file), "--out", str(tmp / "m"), "--folds", "five"],
        ["train", "--labels", str(sample_file), "--out", str(tmp / "m"), "--folds", "1"],
        ["train", "--labels", str(sample_file), "--out", str(tmp / "m"), "--folds", "25"],
        ["evaluate", "--model", str(tmp / "no-model"), "--labels", str(sample_file)],
        ["evaluate", "--model", str(not_a_model), "--labels", str(sample_file)],
        ["evaluate", "--model", str(not_a_model), "--labels", str(wrong_columns)],
    ]


@pytest.mark.parametrize("case", range(8))
def test_bad_input_is_one_line_and_exit_2(case: int, tmp_path: Path, sample_file: Path, capsys) -> None:
    # None of these starts Spark: inputs are checked first.
    args = bad_inputs(tmp_path, sample_file)[case]
    assert main(["tagger", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("obt tagger: error: "), captured.err


def test_the_installed_command_prints_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "obt_tools", "tagger", "train", "--labels", str(tmp_path / "x.csv"), "--out", "m"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert result.stderr == f"obt tagger: error: labels file {tmp_path / 'x.csv'} does not exist\n"
