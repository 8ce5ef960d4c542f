"""Reading ``infra/*.tf`` with python-hcl2 into plain Python values (quotes and block markers removed)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

REPO = Path(__file__).resolve().parents[2]
INFRA = REPO / "infra"


def _unquote(value: Any) -> Any:
    if isinstance(value, str):
        return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
    if isinstance(value, list):
        return [_unquote(item) for item in value]
    if isinstance(value, dict):
        return {_unquote(key): _unquote(item) for key, item in value.items() if not str(key).startswith("__")}
    return value


def tf_files() -> list[Path]:
    return sorted(INFRA.glob("*.tf"))


def load(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return _unquote(hcl2.load(handle))


@dataclass(frozen=True)
class Block:
    kind: str  # resource | data
    type: str
    name: str
    body: dict[str, Any]
    file: str

    @property
    def address(self) -> str:
        return f"{self.type}.{self.name}"


class Config:
    """Every block of every ``.tf`` file in ``infra/``."""

    def __init__(self, files: list[Path] | None = None) -> None:
        self.docs = {path.name: load(path) for path in (files or tf_files())}

    def blocks(self, kind: str) -> Iterator[Block]:
        for file, doc in self.docs.items():
            for entry in doc.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        yield Block(kind, type_, name, body, file)

    def resources(self, type_: str | None = None) -> list[Block]:
        return [b for b in self.blocks("resource") if type_ is None or b.type == type_]

    def resource(self, type_: str, name: str) -> Block:
        matches = [b for b in self.resources(type_) if b.name == name]
        assert matches, f"no resource {type_}.{name} in infra/"
        return matches[0]

    def locals(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for doc in self.docs.values():
            for entry in doc.get("locals", []):
                merged.update(entry)
        return merged

    def named(self, kind: str) -> dict[str, dict[str, Any]]:
        """``variable`` or ``output`` blocks by name."""
        merged: dict[str, dict[str, Any]] = {}
        for doc in self.docs.values():
            for entry in doc.get(kind, []):
                merged.update(entry)
        return merged

    def required_providers(self) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for doc in self.docs.values():
            for block in doc.get("terraform", []):
                for providers in block.get("required_providers", []):
                    merged.update(providers)
        return merged

    def for_each_keys(self, block: Block) -> list[str]:
        """The instance keys of a ``for_each`` over a local (a ``toset([...])`` list or a map)."""
        expression = block.body.get("for_each")
        if expression is None:
            return [""]
        match = re.fullmatch(r"\$\{local\.(\w+)\}", str(expression))
        assert match, f"{block.address}: for_each must name a local, got {expression!r}"
        value = self.locals()[match[1]]
        if isinstance(value, dict):
            return list(value)
        return re.findall(r'"([^"]+)"', str(value))


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (dotted path, leaf value) in a parsed block."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from walk(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")
    else:
        yield path, value
