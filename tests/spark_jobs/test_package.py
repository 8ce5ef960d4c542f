"""How the job reaches Dataproc: the zip holds everything the entry point imports, and nothing else is needed."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.infra.packaging import archives
from tests.spark_jobs.conftest import SPARK_JOBS

# Importable on Dataproc without shipping: the standard library, pyspark, and our own zip.
ALLOWED_ROOTS = set(sys.stdlib_module_names) | {"pyspark", "obt_job", "obt_contract"}
# google-cloud-storage and google-crc32c are local-only (mirror mode, file:// tests): only this module imports them.
LOCAL_ONLY = {"obt_job/mirror.py": {"google", "google_crc32c"}}
JOB = next(archive for archive in archives.archives() if archive.key == "job.package")


def _imports(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_job_imports_only_stdlib_pyspark_and_its_own_package():
    # Everything that runs on Dataproc: the entry point and every module of the zip.
    sources = {"build_obt.py": SPARK_JOBS / "build_obt.py", **JOB.entries}
    for rel, path in sources.items():
        extra = _imports(path) - ALLOWED_ROOTS - LOCAL_ONLY.get(rel, set())
        assert not extra, f"{rel} imports {sorted(extra)}, which Dataproc does not provide"
        assert "obt" not in _imports(path), f"{rel} imports the obt package, which is not on Dataproc"


def test_zip_holds_every_module(tmp_path):
    built = archives.build(JOB, tmp_path)
    assert built.path == tmp_path / "spark_job.zip"
    expected = sorted(
        p.relative_to(package.parent).as_posix()
        for package in (SPARK_JOBS / "obt_job", SPARK_JOBS.parent / "obt_contract")
        for p in package.glob("*.py")
    )
    assert sorted(JOB.entries) == expected
    assert zipfile.ZipFile(built.path).namelist() == expected
    first = built.path.read_bytes()
    archives.build(JOB, tmp_path)
    assert built.path.read_bytes() == first, "the archive must be reproducible"


def test_entry_point_runs_from_the_zip_alone(tmp_path):
    archive = archives.build(JOB, tmp_path).path
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
        [
            sys.executable,
            "-c",
            "import obt_job.job, obt_contract, sys; print(obt_job.__file__); print(obt_contract.__file__);"
            " print('obt' in sys.modules)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    job_location, contract_location, obt_loaded = check.stdout.split()
    assert job_location.startswith(str(archive)) and contract_location.startswith(str(archive))
    assert obt_loaded == "False"
