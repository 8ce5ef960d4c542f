#!/usr/bin/env python3
"""Build every deployable archive: one zip per Cloud Function and the Spark job's ``--py-files`` zip.

    python3 scripts/archives.py [--out DIR] [ARCHIVE ...]   build (all by default) and print path, md5, entries
    python3 scripts/archives.py --terraform                 the same build, answered to Terraform's data "external"

ARCHIVE is ``function.<name>`` (``DIR/functions/<name>.zip``) or ``job.package`` (``DIR/spark_job.zip``); DIR is
``dist/`` by default. This script alone decides what ships: Terraform (``infra/archives.tf``), ``scripts/deploy.sh``
and ``make job-package`` run it, and the tests build with its functions.

Decisions:

- A script run by path, standard library only (Python 3.9 or later): Terraform and deploy.sh need nothing but
  ``python3``, not the venv nor an installed package, and the script sits outside every Python package, so no
  archive can contain it and Terraform names no package folder, only this file.
- What ships is listed once, below (``FUNCTION_FILES``, ``FUNCTION_PACKAGES``, ``JOB_PACKAGES``): each function's
  ``main.py`` and ``requirements.txt`` at the archive root next to the deployed core ``obt`` and the stage contract
  ``obt_contract``, laid out as in the repository so ``import obt`` works as it does locally; the job's package
  ``obt_job`` with the same contract. The operator tooling (``obt_tools``), tests and anything else are not listed,
  so they cannot ship.
- Deterministic: entries sorted, fixed timestamp, mode and creating system, only source files (no bytecode, no
  ``__pycache__``), and stored rather than deflated, so the bytes depend on the sources alone and not on the zlib
  build of the machine. The md5 that names the objects in Cloud Storage then changes exactly when a shipped file
  does: a change redeploys, an unchanged archive does not, whoever deploys.
- ``--terraform`` follows the external data source's protocol: it reads the (empty) query from stdin and prints one
  flat JSON object of strings, ``<key>.path`` and ``<key>.md5`` for every archive and for the job's entry point
  (``job.main``, uploaded as is). Paths are relative to the working directory, as Terraform resolves them, so the
  state holds the same path on every machine.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
FUNCTIONS = ROOT / "functions"
JOB_MAIN = ROOT / "spark_jobs" / "build_obt.py"


class Package(NamedTuple):
    """A package folder, shipped under its own name at the archive root: its files matching ``patterns``."""

    folder: Path
    patterns: tuple[str, ...]


# Every function: its own files at the root (the layout Cloud Functions expects), the deployed core and the contract.
FUNCTION_FILES = ("main.py", "requirements.txt")
FUNCTION_PACKAGES = (Package(ROOT / "obt", ("*.py", "*.sql")), Package(ROOT / "obt_contract", ("*.py",)))
# The Spark job's --py-files: its package and the contract it shares with the functions.
JOB_PACKAGES = (Package(ROOT / "spark_jobs" / "obt_job", ("*.py",)), Package(ROOT / "obt_contract", ("*.py",)))

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry
_UNIX = 3  # zip "created by" system; Python writes 0 on Windows, which would change the bytes


class Archive(NamedTuple):
    """One deployable archive: how it is named, its path under the output folder, and entry name -> source file."""

    key: str
    file: str
    entries: dict[str, Path]


class Built(NamedTuple):
    """An archive written: where, and the md5 of its bytes (what names its object in Cloud Storage)."""

    path: Path
    md5: str


def function_names() -> list[str]:
    """Every folder of ``functions/`` with a ``main.py`` is a function."""
    return sorted(main.parent.name for main in FUNCTIONS.glob("*/main.py"))


def package_entries(packages: Iterable[Package]) -> dict[str, Path]:
    """Entry name -> source file for every file of ``packages`` matching their patterns."""
    entries = {}
    for package in packages:
        for pattern in package.patterns:
            for path in package.folder.rglob(pattern):
                relative = path.relative_to(package.folder.parent)
                # Hidden files (an editor's lock file .#x.py) can match a pattern; they are not sources.
                if not any(part.startswith(".") for part in relative.parts):
                    entries[relative.as_posix()] = path
    return entries


def archives() -> list[Archive]:
    """Every archive this project deploys, functions first."""
    shared = package_entries(FUNCTION_PACKAGES)
    functions = [
        Archive(
            f"function.{name}",
            f"functions/{name}.zip",
            {file: FUNCTIONS / name / file for file in FUNCTION_FILES} | shared,
        )
        for name in function_names()
    ]
    return [*functions, Archive("job.package", "spark_job.zip", package_entries(JOB_PACKAGES))]


def zip_bytes(entries: dict[str, Path]) -> bytes:
    """The archive of ``entries``, byte for byte the same for the same sources."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = _UNIX
            info.external_attr = 0o644 << 16
            archive.writestr(info, entries[name].read_bytes())
    return buffer.getvalue()


def build(archive: Archive, out: Path) -> Built:
    """Write ``archive`` under ``out``; replaced atomically, so a concurrent reader never sees half an archive."""
    data = zip_bytes(archive.entries)
    target = out / archive.file
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{os.getpid()}")
    partial.write_bytes(data)
    os.replace(partial, target)
    return Built(target, hashlib.md5(data).hexdigest())


def terraform_answer(built: dict[str, Built]) -> dict[str, str]:
    """The flat map of strings ``data "external"`` requires: path and md5 of each archive and of the job's main."""
    files = {**built, "job.main": Built(JOB_MAIN, hashlib.md5(JOB_MAIN.read_bytes()).hexdigest())}
    answer = {}
    for key, (path, md5) in files.items():
        answer[f"{key}.path"] = os.path.relpath(path)
        answer[f"{key}.md5"] = md5
    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the function archives and the Spark job's package.")
    parser.add_argument("keys", nargs="*", metavar="ARCHIVE", help="function.<name> or job.package (default: all)")
    parser.add_argument("--out", type=Path, default=DIST, help="output folder (default: dist/)")
    parser.add_argument(
        "--terraform", action="store_true", help="answer Terraform's external data source (JSON on stdin and stdout)"
    )
    args = parser.parse_args(argv)
    known = archives()
    unknown = sorted(set(args.keys) - {archive.key for archive in known})
    if unknown:
        parser.error(f"unknown archive {', '.join(unknown)}; known: {', '.join(a.key for a in known)}")
    if args.terraform:
        if args.keys:
            parser.error("--terraform builds every archive; name none")
        # The protocol sends the query on stdin, to be read in full; infra/ sends none, and nothing is configurable.
        try:
            query = json.load(sys.stdin)
        except json.JSONDecodeError as error:
            parser.error(f"--terraform reads a JSON query on stdin: {error}")
        if query != {}:
            parser.error(f"--terraform takes an empty query, got {query!r}")
    chosen = [archive for archive in known if not args.keys or archive.key in args.keys]
    built = {archive.key: build(archive, args.out) for archive in chosen}
    if args.terraform:
        json.dump(terraform_answer(built), sys.stdout, sort_keys=True)
    else:
        for archive in chosen:
            path, md5 = built[archive.key]
            print(f"{path}  md5 {md5}  {len(archive.entries)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
