"""What ships: each function archive holds only deployed code and runs from itself alone; builds are reproducible;
``--terraform`` answers Terraform's external data source. The Spark job's zip: tests/spark_jobs/test_package.py."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.infra.packaging import SCRIPT, archives
from tests.infra.terraform import INFRA, REPO

FUNCTIONS = [archive for archive in archives.archives() if archive.key.startswith("function.")]
# Run in a fresh interpreter whose only path to our code is the extracted archive. The venv's editable install of
# this repository adds a finder and a path hook that would serve obt, obt_contract and obt_tools from the working
# tree, so they go before anything is imported; the test still checks that no module came from the repository.
PROBE = """
import json, sys

def editable(hook):
    return getattr(hook, "__module__", "").startswith("__editable__")

sys.meta_path[:] = [finder for finder in sys.meta_path if not editable(finder)]
sys.path_hooks[:] = [hook for hook in sys.path_hooks if not editable(hook)]
sys.path[:] = [entry for entry in sys.path if "__editable__" not in entry]
sys.path_importer_cache.clear()

import main

modules = {name: getattr(module, "__file__", None) for name, module in list(sys.modules.items())}
print(json.dumps({"entry_point": callable(getattr(main, sys.argv[1], None)), "modules": modules}))
"""


def test_one_archive_per_function_folder_and_one_for_the_job() -> None:
    folders = sorted(p.parent.name for p in (REPO / "functions").glob("*/main.py"))
    assert [a.key for a in FUNCTIONS] == [f"function.{name}" for name in folders]
    assert [a.file for a in FUNCTIONS] == [f"functions/{name}.zip" for name in folders]
    others = [(a.key, a.file) for a in archives.archives() if a not in FUNCTIONS]
    assert others == [("job.package", "spark_job.zip")]


@pytest.mark.parametrize("archive", FUNCTIONS, ids=lambda a: a.key)
def test_function_archive_holds_only_deployed_code(archive, tmp_path: Path) -> None:
    name = archive.key.removeprefix("function.")
    path = archives.build(archive, tmp_path).path
    with zipfile.ZipFile(path) as opened:
        entries = opened.namelist()
        assert opened.read("main.py") == (REPO / "functions" / name / "main.py").read_bytes()
        assert opened.read("requirements.txt") == (REPO / "functions" / name / "requirements.txt").read_bytes()
    core = {p.relative_to(REPO).as_posix() for p in (REPO / "obt").rglob("*") if p.suffix in (".py", ".sql")}
    contract = {p.relative_to(REPO).as_posix() for p in (REPO / "obt_contract").rglob("*.py")}
    assert entries == sorted(entries), "entries are sorted"
    assert set(entries) == {"main.py", "requirements.txt"} | core | contract
    assert "obt/__init__.py" in entries and "obt_contract/__init__.py" in entries


@pytest.mark.parametrize("archive", FUNCTIONS, ids=lambda a: a.key)
def test_function_imports_from_its_archive_alone_without_the_tooling(archive, tmp_path: Path) -> None:
    name = archive.key.removeprefix("function.")
    with zipfile.ZipFile(archives.build(archive, tmp_path / "dist").path) as opened:
        opened.extractall(tmp_path / "source")
    source = (tmp_path / "source").resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env |= {"PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, name], cwd=source, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["entry_point"], f"main.py of {name} has no callable {name}"
    modules = answer["modules"]
    assert Path(modules["obt"]).resolve().is_relative_to(source), modules["obt"]
    ours = {m: f for m, f in modules.items() if m.split(".")[0] in ("obt", "obt_contract") and f}
    assert all(Path(f).resolve().is_relative_to(source) for f in ours.values()), ours
    tooling = sorted(m for m in modules if m.split(".")[0] in ("obt_tools", "obt_job"))
    assert not tooling, f"{name} loads tooling or the Spark job: {tooling}"
    venv = Path(sys.prefix).resolve()
    from_repo = sorted(
        m
        for m, f in modules.items()
        if f and Path(f).resolve().is_relative_to(REPO) and not Path(f).resolve().is_relative_to(venv)
    )
    assert not from_repo, f"loaded from the working tree, not the archive: {from_repo}"


def test_builds_are_reproducible_byte_for_byte(tmp_path: Path) -> None:
    for archive in archives.archives():
        first = archives.build(archive, tmp_path / "one")
        second = archives.build(archive, tmp_path / "two")
        assert first.path.read_bytes() == second.path.read_bytes(), archive.key
        assert first.md5 == second.md5 == hashlib.md5(first.path.read_bytes()).hexdigest()
        # Nothing of the machine or the moment leaks in: no timestamp, mode or bytecode.
        with zipfile.ZipFile(first.path) as opened:
            for info in opened.infolist():
                assert info.date_time == (1980, 1, 1, 0, 0, 0), info.filename
                assert info.external_attr == 0o644 << 16 and info.create_system == 3, info.filename
                assert info.compress_type == zipfile.ZIP_STORED, info.filename
                assert info.filename.endswith((".py", ".sql", ".txt")), info.filename


def test_terraform_mode_answers_the_external_data_source_with_stdlib_only(tmp_path: Path) -> None:
    # As Terraform runs it: plain python3 (-S -I: no site-packages, no venv, no PYTHONPATH), from the root module.
    done = subprocess.run(
        [sys.executable, "-S", "-I", str(SCRIPT), "--terraform", "--out", str(tmp_path)],
        input="{}",
        cwd=INFRA,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert all(isinstance(value, str) for value in answer.values()), "the protocol allows only strings"
    keys = [a.key for a in archives.archives()] + ["job.main"]
    assert sorted(answer) == sorted(f"{key}.{field}" for key in keys for field in ("path", "md5"))
    for key in keys:
        path = INFRA / answer[f"{key}.path"]
        assert not Path(answer[f"{key}.path"]).is_absolute(), "the same path in every operator's state"
        assert hashlib.md5(path.read_bytes()).hexdigest() == answer[f"{key}.md5"], key
    assert (INFRA / answer["job.main.path"]).resolve() == REPO / "spark_jobs" / "build_obt.py"
    assert (INFRA / answer["job.package.path"]).resolve() == (tmp_path / "spark_job.zip").resolve()


@pytest.mark.parametrize(
    ("args", "query", "message"),
    [
        (("--terraform",), '{"out": "x"}', "takes an empty query"),
        (("--terraform",), "", "reads a JSON query"),
        (("--terraform", "job.package"), "{}", "name none"),
        (("function.nope",), "", "unknown archive function.nope"),
    ],
)
def test_bad_use_is_one_clear_error(args: tuple[str, ...], query: str, message: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args, "--out", str(tmp_path)],
        input=query,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert not done.stdout and not any(tmp_path.iterdir()), "nothing built, nothing answered"


def test_named_archives_only_are_built(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "job.package", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")] == ["spark_job.zip"]
    assert str(tmp_path / "spark_job.zip") in done.stdout
