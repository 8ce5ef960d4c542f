"""How the job reaches Dataproc: the zip holds everything the entry point imports, and nothing else is needed."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.spark_jobs.conftest import SPARK_JOBS

# Importable on Dataproc without shipping: the standard library, pyspark, and our own zip.
ALLOWED_ROOTS = set(sys.stdlib_module_names) | {"pyspark", "obt_job"}
# google-cloud-storage is local-only (mirror mode): only this module may import it.
LOCAL_ONLY = {"obt_job/mirror.py": {"google"}}


def _imports(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_job_imports_only_stdlib_pyspark_and_its_own_package():
    sources = [SPARK_JOBS / "build_obt.py", *sorted((SPARK_JOBS / "obt_job").glob("*.py"))]
    for path in sources:
        rel = path.relative_to(SPARK_JOBS).as_posix()
        extra = _imports(path) - ALLOWED_ROOTS - LOCAL_ONLY.get(rel, set())
        assert not extra, f"{rel} imports {sorted(extra)}, which Dataproc does not provide"
        assert "obt" not in _imports(path), f"{rel} imports the obt package, which is not on Dataproc"


def test_zip_holds_every_module(tmp_path):
    sys.path.insert(0, str(SPARK_JOBS))
    from package import build_zip

    target = tmp_path / "spark_job.zip"
    names = build_zip(target)
    expected = sorted(
        p.relative_to(package.parent).as_posix()
        for package in (SPARK_JOBS / "obt_job", SPARK_JOBS.parent / "obt_contract")
        for p in package.glob("*.py")
    )
    assert sorted(names) == expected
    assert sorted(zipfile.ZipFile(target).namelist()) == expected
    first = target.read_bytes()
    build_zip(target)
    assert target.read_bytes() == first, "the archive must be reproducible"


def test_entry_point_runs_from_the_zip_alone(tmp_path):
    sys.path.insert(0, str(SPARK_JOBS))
    from package import build_zip

    archive = tmp_path / "spark_job.zip"
    build_zip(archive)
    entry = tmp_path / "main" / "build_obt.py"
    entry.parent.mkdir()
    shutil.copy(SPARK_JOBS / "build_obt.py", entry)
    # As on Dataproc: the main file alone in its folder, the package only in the --py-files zip.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(archive)}
    probe = (
        f"import runpy, sys; sys.argv = ['build_obt.py', '--help'];runpy.run_path({str(entry)!r}, run_name='__main__')"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "--purchases-manifest" in done.stdout
    check = subprocess.run(
        [sys.executable, "-c", "import obt_job.job, sys; print(obt_job.__file__); print('obt' in sys.modules)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    location, obt_loaded = check.stdout.split()
    assert location.startswith(str(archive))
    assert obt_loaded == "False"
