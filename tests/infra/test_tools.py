"""checkov and `terraform fmt` over infra/, and what the function archives can import."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.infra.terraform import INFRA, REPO

CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.slow
def test_checkov_finds_no_failed_check() -> None:
    if not CHECKOV.exists():
        pytest.skip(f"{CHECKOV} is missing: `make test` builds it from infra/checkov-requirements.txt")
    # Offline: no download of Prisma Cloud guidelines or mappings.
    env = {**os.environ, "BC_SKIP_MAPPING": "TRUE"}
    result = subprocess.run(
        [str(CHECKOV), "-d", str(INFRA), "--compact", "--quiet", "--skip-download", "--framework", "terraform"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    summary = re.search(r"Passed checks: (\d+), Failed checks: (\d+), Skipped checks: (\d+)", result.stdout)
    assert summary, f"checkov printed no summary:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert int(summary[1]) > 50, "checkov evaluated suspiciously few checks"
    assert int(summary[2]) == 0 and result.returncode == 0, result.stdout[-5000:]
    skipped_inline = sum(path.read_text().count("#checkov:skip=") for path in INFRA.glob("*.tf"))
    assert int(summary[3]) >= skipped_inline, "every inline skip is one checkov honoured"


def test_infra_is_formatted_as_terraform_fmt_writes_it() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed; `terraform fmt -check -recursive infra` cannot run")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-recursive", "-diff", str(INFRA)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"not terraform-fmt formatted:\n{result.stdout}"


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _module_file(name: str) -> Path | None:
    base = REPO / Path(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def test_functions_never_reach_the_local_cloud_package_left_out_of_their_archives() -> None:
    for main in sorted((REPO / "functions").glob("*/main.py")):
        seen: set[Path] = set()
        todo = [main]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            for name in _imports(path):
                if name == "obt" or name.startswith("obt."):
                    assert not name.startswith("obt_tools.local"), f"{main.parent.name} imports {name} via {path}"
                    module = _module_file(name)
                    if module is not None:
                        todo.append(module)
        assert any(p.parent.name == "obt" or "obt" in p.parts for p in seen if p != main), main
