"""Does a snapshot manifest still describe the bytes in the bucket? One check for the extract, the trigger and status.

A manifest names every part with the generation, size and crc32c the export committed. A GCS generation names
one immutable content, so a part listed at another generation (or not listed at all) was overwritten or deleted
after the manifest announced it. That snapshot is *corrupt*, never merely incomplete: the extract writes the
manifest only after every part is committed. No reader may use a corrupt snapshot, and none may quietly take
another one in its place (the extract answers an error, the trigger waits), because either would hand a build
data that is not its manifest's. Size and crc32c are compared too: they say what changed, and they catch a
store that reuses generations.

Which fields a manifest must carry is the reader's decision. The extract reuses only manifests in the shape it
writes (every field: ``obt.extract.manifest.check_manifest``). The trigger also reads hand-made or older
manifests, so a field a manifest does not record is not compared; a crc32c the listing does not report is not
either (some emulators report none).

Pure apart from ``check_snapshot``, which reads one manifest and lists its folder (for ``obt status``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from obt.objects import ListedObject, NotJsonObject, Objects
from obt_contract.layout import MANIFEST_NAME, split_gs_uri


@dataclass(frozen=True)
class ManifestPart:
    """One part as the manifest records it; ``None`` for a field the manifest does not record."""

    name: str
    bytes: int | None
    generation: int | None
    crc32c: str | None


@dataclass(frozen=True)
class PartMismatch:
    """A part the manifest names that the bucket does not hold as recorded, and what differs."""

    name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.name} {self.problem}"


_KINDS = {int: "integer", str: "string"}


def _optional(part: Mapping[str, Any], key: str, kind: type) -> Any:
    value = part.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, kind)):
        raise ValueError(f"manifest part {part['name']} has a non-{_KINDS[kind]} {key!r}: {value!r}")
    return value


def snapshot_folder(manifest_name: str) -> str:
    """The folder (``…/run_id=R/``) of a snapshot manifest's object name: its parts live there."""
    if not manifest_name.endswith("/" + MANIFEST_NAME):
        raise ValueError(f"{manifest_name!r} is not a snapshot manifest name")
    return manifest_name[: -len(MANIFEST_NAME)]


def manifest_parts(doc: Mapping[str, Any], folder: str) -> list[ManifestPart]:
    """The parts a snapshot manifest lists, each an object of ``folder``; ``ValueError`` if the list is not that."""
    parts = doc.get("parts")
    if not isinstance(parts, list) or not parts:
        raise ValueError("manifest lists no parts")
    result = []
    for part in parts:
        name = part.get("name") if isinstance(part, Mapping) else None
        if not isinstance(name, str) or not name.startswith(folder):
            raise ValueError(f"manifest part {part!r} is not an object of {folder}")
        result.append(
            ManifestPart(
                name, _optional(part, "bytes", int), _optional(part, "generation", int), _optional(part, "crc32c", str)
            )
        )
    return result


def part_mismatches(parts: Iterable[ManifestPart], listed: Mapping[str, ListedObject]) -> list[PartMismatch]:
    """Every part whose listed object differs from what the manifest records (empty: the snapshot is consistent)."""
    mismatches = []
    for part in parts:
        obj = listed.get(part.name)
        if obj is None:
            mismatches.append(PartMismatch(part.name, "missing"))
            continue
        differs = []
        if part.generation is not None and obj.generation != part.generation:
            differs.append(f"generation {obj.generation}, manifest says {part.generation}")
        if part.bytes is not None and obj.size != part.bytes:
            differs.append(f"{obj.size} bytes, manifest says {part.bytes}")
        if part.crc32c is not None and obj.crc32c is not None and obj.crc32c != part.crc32c:
            differs.append(f"crc32c {obj.crc32c}, manifest says {part.crc32c}")
        if differs:
            mismatches.append(PartMismatch(part.name, "has " + ", ".join(differs)))
    return mismatches


def check_snapshot(objects: Objects, manifest_uri: str) -> list[str]:
    """What is wrong with the snapshot whose manifest is ``manifest_uri``, read now (empty: consistent).

    For tooling that shows snapshots (``obt status``): the same verdict the trigger reaches, as readable lines.
    """
    bucket, name = split_gs_uri(manifest_uri)
    try:
        doc = objects.read_json(manifest_uri)
        if doc is None:
            return [f"{manifest_uri} does not exist"]
        folder = snapshot_folder(name)
        parts = manifest_parts(doc, folder)
    except (NotJsonObject, ValueError) as exc:
        return [f"manifest unusable: {exc}"]
    listed = {obj.name: obj for obj in objects.list_objects(bucket, folder)}
    return [str(mismatch) for mismatch in part_mismatches(parts, listed)]
