"""In-memory part sinks for tests of the part writer (no storage involved)."""

from __future__ import annotations

import io


class MemoryStore:
    def __init__(self, fail_at_part: int | None = None) -> None:
        self.committed: dict[str, bytes] = {}
        self.aborted: list[str] = []
        self.fail_at_part = fail_at_part

    def open_part(self, index: int) -> MemorySink:
        return MemorySink(self, index)


class MemorySink:
    def __init__(self, store: MemoryStore, index: int) -> None:
        self.store = store
        self.index = index
        self.name = f"part-{index:05d}.csv.gz"
        self.buffer = io.BytesIO()

    def write(self, data: bytes) -> None:
        if self.store.fail_at_part == self.index:
            raise OSError(f"injected storage failure in {self.name}")
        self.buffer.write(data)

    def commit(self, size: int, crc32c: str) -> int | None:
        self.store.committed[self.name] = self.buffer.getvalue()
        return 1000 + self.index

    def abort(self) -> None:
        self.store.aborted.append(self.name)
