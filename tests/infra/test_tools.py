"""checkov and `terraform fmt` over infra/ (what the function archives import: test_packaging.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

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
