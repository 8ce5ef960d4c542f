"""``scripts/archives.py``, the packaging script, loaded as a module: it is a script run by path (Terraform and
scripts/deploy.sh call it with a plain ``python3``), outside every package, so it cannot be imported by name."""

from __future__ import annotations

import importlib.util
from types import ModuleType

from tests.infra.terraform import REPO

SCRIPT = REPO / "scripts" / "archives.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("archives", SCRIPT)
    assert spec and spec.loader, SCRIPT
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


archives = _load()
