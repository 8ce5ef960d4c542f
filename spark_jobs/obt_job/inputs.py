"""The build reads exactly its pinned inputs, or fails saying which one moved; the manifest records what it read.

Every input arrives as ``gs://B/NAME#G`` (``obt_contract.layout``): the generation the build id hashes. Where the
bytes come from, and so how an input's state is known (``state_reader``):

- **Local mirror mode.** The local Dataproc endpoint downloaded exactly generation G into a file of its own
  (``layout.mirror_name``) before the driver started, or failed the batch with ``layout.input_gone``'s reason.
  The job reads that file; its state is the file's size and crc32c, at generation G.
- **Dataproc.** Spark reads live objects through the Cloud Storage connector, and a Hadoop path carries no
  generation. So ``InputGuard.pin`` asks the JSON API for every input's live generation before anything is
  read: one that is not G means G is gone, and the job stops (``InputGone``, nothing read, no manifest: the batch
  fails with that reason and ``obt reconcile`` announces it). ``InputGuard.changes`` asks again after the last
  read of every input (the end of the quarantine writes, by when a lost cache block has been read again): a
  difference fails the build through its manifest, ``input X changed while the build read it (generation A → B)``,
  and the build writes no layer marker for the dates it classified (``job.Build.mark_layers``).
  This is sound because an object's live generation only ever moves to a new number, never back (an overwrite, a
  delete and re-create, a restore of an old version each mint a new generation): the same live generation at
  both ends means it was G throughout, so every read in between (a re-read included) read G.
- **``file://`` inputs** (tests) pin nothing: their state is recorded and compared, never required.

Only ``live_state`` does network I/O (the standard library against the JSON API, or ``STORAGE_EMULATOR_HOST``);
``InputGuard`` is pure over a ``ReadState`` function, so a test can move an input between its two looks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from obt_contract.layout import gs_uri, input_gone, split_pinned_uri, unpin
from obt_job import mirror, storage_api
from obt_job.paths import PathMap


@dataclass(frozen=True)
class ObjectState:
    """What a read of an input gets: its generation (``None`` for a local ``file://`` input), size and crc32c."""

    generation: int | None
    bytes: int
    crc32c: str


ReadState = Callable[[str], ObjectState | None]
"""An input URI, as the job got it -> the state a read of it gets now; ``None`` when there is no such object."""


class InputGone(RuntimeError):
    """A pinned generation is no longer the one a read gets: the build must not read anything."""


def live_state(uri: str) -> ObjectState | None:
    """The live object behind a pinned ``gs://`` input, from the Cloud Storage JSON API."""
    bucket, name, _ = split_pinned_uri(uri)
    doc = storage_api.object_metadata(gs_uri(bucket, name), "generation,size,crc32c")
    return None if doc is None else ObjectState(int(doc["generation"]), int(doc["size"]), str(doc["crc32c"]))


def state_reader(paths: PathMap) -> ReadState:
    """Live objects on Dataproc; the local file otherwise (a mirrored input is the generation its URI pins)."""

    def read(uri: str) -> ObjectState | None:
        if uri.startswith("gs://") and not paths.mirrored:
            return live_state(uri)
        found = mirror.size_and_crc32c(paths.local_path(uri))
        return None if found is None else ObjectState(unpin(uri)[1], *found)

    return read


def _version(state: ObjectState) -> str:
    return "a local file" if state.generation is None else f"generation {state.generation}"


def _change(before: ObjectState | None, now: ObjectState | None) -> str:
    if before is None or now is None:
        return f"{_version(before) if before else 'absent'} → {_version(now) if now else 'deleted'}"
    if before.generation != now.generation:
        return f"generation {before.generation} → {now.generation}"
    # The same generation with other bytes: only a local file can be rewritten in place.
    return f"{_version(before)}, crc32c {before.crc32c} → {now.crc32c}"


@dataclass
class InputGuard:
    """Every input's state before the first read (``pin``) and after the last (``changes``); see the module."""

    uris: Sequence[str]
    read_state: ReadState
    pinned: dict[str, ObjectState | None] = field(default_factory=dict)

    def pin(self) -> None:
        """Reads every input's state; raises ``InputGone`` naming each pinned generation a read would not get."""
        states = {uri: self.read_state(uri) for uri in self.uris}
        gone = [
            input_gone(uri)
            for uri, state in states.items()
            if (generation := unpin(uri)[1]) is not None and (state is None or state.generation != generation)
        ]
        if gone:
            raise InputGone("; ".join(gone))
        self.pinned = states

    def changes(self) -> list[str]:
        """A readable problem per input whose state differs from the pinned one; none means every read got it."""
        problems = []
        for uri, before in self.pinned.items():
            now = self.read_state(uri)
            if now != before:
                problems.append(f"input {unpin(uri)[0]} changed while the build read it ({_change(before, now)})")
        return problems

    def record(self, uri: str) -> dict[str, Any]:
        """The manifest's record of one input: the object, and the generation, size and crc32c that were read."""
        state = self.pinned[uri]
        return {
            "uri": unpin(uri)[0],
            "generation": state.generation if state else None,
            "bytes": state.bytes if state else None,
            "crc32c": state.crc32c if state else None,
        }
