"""The vendor inputs grouped by ingest date, each date's layer key, and its layer marker's document: pure.

Each vendor date is classified once into the curated bucket's classified layer (``layer``; docs/contracts.md,
"Classified vendor dates"): its rows, then its marker ``classified/ingest_date=D/K/_LAYER.json``. K is
``obt_contract.layout.layer_key`` of the date's files as the build id pins them (``NAME#GENERATION``), the review
tagger's model and the layer version: everything the date's rows are a function of. So a build knows from its
arguments alone which marker would hold a date (nothing is listed), and a re-uploaded file (a new generation) makes
a new key: that date is classified again, every other date keeps its layer.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from obt_contract.layout import (
    LAYER_VERSION,
    LayoutError,
    classify_raw,
    layer_key,
    layer_marker_name,
    split_gs_uri,
    unpin,
)
from obt_job.inputs import ObjectState


class VendorNameError(ValueError):
    """A vendor input not named as the raw layout names vendor files: its ingest date is unknown."""


@dataclass(frozen=True)
class VendorDate:
    """One ingest date's vendor inputs, by source name (in argument order), and its layer key."""

    day: date
    uris: Mapping[str, tuple[str, ...]]
    key: str

    @property
    def marker_name(self) -> str:
        return layer_marker_name(self.day, self.key)


@dataclass(frozen=True)
class Layer:
    """Where one date's classified rows are: the files of each source (URIs under the output root) and the marker
    naming them, at ``generation`` once read or written (``None`` where objects have none); ``reused`` when an
    earlier build classified the date."""

    marker_uri: str
    files: Mapping[str, tuple[str, ...]]
    generation: int | None
    reused: bool


def _object_name(uri: str) -> str:
    """The raw object a vendor input is: its name in the bucket, or for a local ``file://`` input (tests) the
    last three parts of its path, which the raw layout gives a vendor file (``SOURCE/ingest_date=D/FILE``)."""
    if uri.startswith("gs://"):
        return split_gs_uri(unpin(uri)[0])[1]
    return "/".join(urllib.parse.urlparse(uri).path.split("/")[-3:])


def ingest_date(source: str, uri: str) -> date:
    """The ingest date of a ``source`` input, from its name; ``VendorNameError`` when the layout does not name it."""
    try:
        raw = classify_raw(_object_name(uri))
    except LayoutError:
        raw = None
    if raw is None or raw.kind != "vendor" or raw.source != source:
        raise VendorNameError(f"{uri}: a {source} input must be named {source}/ingest_date=YYYY-MM-DD/FILE.csv[.gz]")
    return raw.ingest_date


def key_line(uri: str, state: ObjectState | None) -> str:
    """What a date's layer key hashes of one input: ``NAME#GENERATION`` as the build id does; a local ``file://``
    input (tests), which has no generation, by its content's crc32c instead."""
    if uri.startswith("gs://"):
        return f"{_object_name(uri)}#{unpin(uri)[1]}"
    return f"{uri}#crc32c={state.crc32c if state else ''}"


def group(
    inputs: Mapping[str, Sequence[str]],
    states: Mapping[str, ObjectState | None],
    tagger_model: str | None,
) -> list[VendorDate]:
    """``inputs`` (source name -> URIs, as the arguments give them) grouped by ingest date, oldest first, each date
    with its layer key; ``states`` holds what a read of each input gets (``inputs.InputGuard.pinned``)."""
    by_day: dict[date, dict[str, list[str]]] = {}
    for source, uris in inputs.items():
        for uri in uris:
            by_day.setdefault(ingest_date(source, uri), {}).setdefault(source, []).append(uri)
    return [
        VendorDate(
            day,
            {source: tuple(uris) for source, uris in sources.items()},
            _key(sources, states, tagger_model),
        )
        for day, sources in sorted(by_day.items())
    ]


def _key(
    sources: Mapping[str, Sequence[str]], states: Mapping[str, ObjectState | None], tagger_model: str | None
) -> str:
    return layer_key([key_line(uri, states.get(uri)) for uris in sources.values() for uri in uris], tagger_model)


def marker_document(
    vendor_date: VendorDate,
    *,
    build_id: str,
    folder: str,
    files: Mapping[str, Sequence[str]],
    inputs: Mapping[str, list[dict[str, Any]]],
    counts: Mapping[str, Mapping[str, int]],
    tagger_model: str | None,
    created_at: str,
) -> dict[str, Any]:
    """A date's layer marker (docs/contracts.md, "Classified vendor dates"): which rows (``folder``, and under it
    each source's ``files``), made from which inputs as read, by which rules and model, and the date's own counts."""
    return {
        "layer_version": LAYER_VERSION,
        "layer_key": vendor_date.key,
        "ingest_date": vendor_date.day.isoformat(),
        "tagger_model": tagger_model,
        "inputs": dict(inputs),
        "build_id": build_id,
        "created_at": created_at,
        "folder": folder,
        "files": {source: list(names) for source, names in files.items()},
        "counts": {source: dict(c) for source, c in counts.items()},
    }


def marker_files(vendor_date: VendorDate, document: Any, root: str) -> dict[str, tuple[str, ...]] | None:
    """The file URIs of each source a marker names (under the output ``root``); ``None`` when the document is not
    this date's marker of this layer version (then the date is classified again, and its marker replaced)."""
    if not isinstance(document, Mapping) or (document.get("layer_version"), document.get("layer_key")) != (
        LAYER_VERSION,
        vendor_date.key,
    ):
        return None
    folder, files = document.get("folder"), document.get("files")
    if not isinstance(folder, str) or not isinstance(files, Mapping):
        return None
    named: dict[str, tuple[str, ...]] = {}
    for source, names in files.items():
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            return None
        named[source] = tuple(f"{root}/{folder}{name}" for name in names)
    return named
