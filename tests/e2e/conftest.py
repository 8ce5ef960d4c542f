"""The whole chain on a real local cloud of its own (module-scoped: starting it costs ~20 s)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from obt_tools import demo

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[demo.DemoSession]:
    chain = demo.DemoSession(tmp_path_factory.mktemp("e2e-state"), die_with_parent=True)
    with demo.restored_environment():
        try:
            chain.start()
            yield chain
        finally:
            chain.stop()
