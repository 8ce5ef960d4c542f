"""Build ``dist/spark_job.zip``: the ``obt_job`` and ``obt_contract`` packages for Dataproc's ``--py-files``
(``make job-package``).

Deterministic (sorted entries, fixed timestamps, no bytecode) so the same source gives the same archive.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The job's own package, and the stage contract it shares with the deployed functions.
PACKAGES = (HERE / "obt_job", HERE.parent / "obt_contract")
_EPOCH = (1980, 1, 1, 0, 0, 0)


def build_zip(target: Path) -> list[str]:
    """Write the archive to ``target``; returns the entry names."""
    target.parent.mkdir(parents=True, exist_ok=True)
    names = []
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        sources = {
            path.relative_to(package.parent).as_posix(): path for package in PACKAGES for path in package.rglob("*.py")
        }
        for name, path in sorted(sources.items()):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, path.read_bytes())
            names.append(name)
    return names


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "dist" / "spark_job.zip"
    entries = build_zip(out)
    print(f"{out}: {len(entries)} modules")
