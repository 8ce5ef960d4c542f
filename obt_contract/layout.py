"""Object names: the one place that knows how raw and curated objects are laid out.

Raw bucket::

    user_purchase/ingest_date=YYYY-MM-DD/run_id=R/part-A-NNNNN.csv.gz (A: the export attempt, 16 hex digits)
    user_purchase/ingest_date=YYYY-MM-DD/run_id=R/_MANIFEST.json      (written last)
    movie_review/ingest_date=YYYY-MM-DD/movie_review.csv[.gz]
    log_reviews/ingest_date=YYYY-MM-DD/log_reviews.csv[.gz]

Curated bucket::

    obt/build_id=B/part-*.parquet
    quarantine/SOURCE/build_id=B/part-*.parquet
    obt/build_id=B/_MANIFEST.json                                      (written last)
    obt/build_id=B/_PUBLISHED.json                                     (after the completion message)
    classified/build_id=B/attempt=A/SOURCE/ingest_date=YYYY-MM-DD/part-*.parquet   (one build's per-date layer files)
    classified/ingest_date=YYYY-MM-DD/K/_LAYER.json                    (the date's layer is complete; written last)

Build inputs travel pinned, ``gs://B/NAME#GENERATION`` (``pinned_uri``, ``split_pinned_uri``): the version the
build id names, never "whatever is live when the job reads it" (docs/contracts.md, "Pinned inputs"). The local
Dataproc endpoint stages each pinned input into a file of its own, ``mirror_name``, where the job reads it.

Every export attempt names its parts with an id of its own, so no attempt ever writes an object another attempt
wrote: the parts a committed manifest names stay the bytes it describes, whatever a concurrent or later attempt
for the same (table, ingest date, run id) does. Parts written before attempt ids (``part-NNNNN.csv.gz``) are
still recognised as parts (with an empty attempt), so buckets holding older snapshots keep working; nothing
writes such names any more.

The classified layer (docs/contracts.md, "Classified vendor dates") holds each vendor date's rows once classified.
Its marker's name is derived from the date's inputs alone (``layer_key``), never found by listing: a build knows
which marker to look for from its arguments, and a re-uploaded date (a new generation) has a new key, so it is
classified again while every other date keeps its layer. The files a marker names are under a folder of their own
per build attempt (``layer_folder``), so two builds classifying the same date never write each other's files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from obt_contract import ContractError
from obt_contract.sources import VENDOR_SOURCES

MANIFEST_NAME = "_MANIFEST.json"
MARKER_NAME = "_PUBLISHED.json"
LAYER_MARKER_NAME = "_LAYER.json"
# Bump when what a date's layer holds changes (a vendor rule, a column): every date is then classified again once,
# since the version is part of every layer key, and the build id hashes it too (a new version, a new build).
# 2: the files hold their ingest date as a column too (``_ingest_date``), which readers of version 1 files lacked.
LAYER_VERSION = 2
LAYER_KEY_HEX_DIGITS = 16

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
ATTEMPT_ID_HEX_DIGITS = 16
_ATTEMPT_ID = re.compile(rf"^[0-9a-f]{{{ATTEMPT_ID_HEX_DIGITS}}}$")
_PURCHASE_OBJECT = re.compile(
    r"^(?P<table>[a-z_][a-z0-9_]*)/ingest_date=(?P<date>\d{4}-\d{2}-\d{2})/run_id=(?P<run>[^/]+)/"
    rf"(?P<file>part-(?:(?P<attempt>[0-9a-f]{{{ATTEMPT_ID_HEX_DIGITS}}})-)?\d{{5}}\.csv\.gz|_MANIFEST\.json)$"
)
_VENDOR_OBJECT = re.compile(
    rf"^(?P<source>{'|'.join(VENDOR_SOURCES)})/ingest_date=(?P<date>\d{{4}}-\d{{2}}-\d{{2}})/(?P<file>[^/]+\.csv(?:\.gz)?)$"
)


class LayoutError(ContractError):
    """An object name or id that does not follow the layout."""


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise LayoutError(f"not a YYYY-MM-DD date: {text!r}") from exc


def check_run_id(run_id: str) -> str:
    if not _RUN_ID.match(run_id):
        raise LayoutError(f"run id must match {_RUN_ID.pattern}, got {run_id!r}")
    return run_id


def new_attempt_id() -> str:
    """A fresh export attempt id: 64 random bits, so two attempts never share part names."""
    return secrets.token_hex(ATTEMPT_ID_HEX_DIGITS // 2)


def check_attempt_id(attempt: str) -> str:
    if not _ATTEMPT_ID.match(attempt):
        raise LayoutError(f"attempt id must match {_ATTEMPT_ID.pattern}, got {attempt!r}")
    return attempt


def snapshot_prefix(table: str, ingest_date: date, run_id: str) -> str:
    return f"{table}/ingest_date={ingest_date.isoformat()}/run_id={check_run_id(run_id)}/"


def part_name(table: str, ingest_date: date, run_id: str, attempt: str, index: int) -> str:
    return f"{snapshot_prefix(table, ingest_date, run_id)}part-{check_attempt_id(attempt)}-{index:05d}.csv.gz"


def snapshot_manifest_name(table: str, ingest_date: date, run_id: str) -> str:
    return snapshot_prefix(table, ingest_date, run_id) + MANIFEST_NAME


def vendor_prefix(source: str, ingest_date: date) -> str:
    if source not in VENDOR_SOURCES:
        raise LayoutError(f"unknown vendor source {source!r}")
    return f"{source}/ingest_date={ingest_date.isoformat()}/"


@dataclass(frozen=True)
class RawObject:
    """A raw object that matters to the pipeline; ``kind`` is ``snapshot_part``, ``snapshot_manifest`` or ``vendor``.

    ``attempt`` is the export attempt that wrote a snapshot part (empty for every other kind)."""

    kind: str
    source: str
    ingest_date: date
    name: str
    run_id: str = ""
    attempt: str = ""


def classify_raw(name: str) -> RawObject | None:
    """Recognise a raw object name; ``None`` means the pipeline ignores it."""
    match = _PURCHASE_OBJECT.match(name)
    if match:
        kind = "snapshot_manifest" if match["file"] == MANIFEST_NAME else "snapshot_part"
        return RawObject(kind, match["table"], parse_date(match["date"]), name, match["run"], match["attempt"] or "")
    match = _VENDOR_OBJECT.match(name)
    if match:
        return RawObject("vendor", match["source"], parse_date(match["date"]), name)
    return None


BUILDS_PREFIX = "obt/build_id="
_BUILD_MANIFEST = re.compile("^" + re.escape(BUILDS_PREFIX) + r"(?P<build>[^/]+)/" + re.escape(MANIFEST_NAME) + "$")


def build_prefix(build_id: str) -> str:
    return f"{BUILDS_PREFIX}{build_id}/"


def build_of_manifest(name: str) -> str | None:
    """The build id of a curated ``obt/build_id=B/_MANIFEST.json`` name; ``None`` for any other object."""
    match = _BUILD_MANIFEST.match(name)
    return match["build"] if match else None


def build_manifest_name(build_id: str) -> str:
    return build_prefix(build_id) + MANIFEST_NAME


def build_marker_name(build_id: str) -> str:
    return build_prefix(build_id) + MARKER_NAME


def quarantine_prefix(source: str, build_id: str) -> str:
    return f"quarantine/{source}/build_id={build_id}/"


CLASSIFIED_PREFIX = "classified/"
# What precedes the ingest date in the path of a raw vendor object or of a layer file: the date is the ten
# characters after its last occurrence (``ingest_date_in_path``; the job's Spark reads cut a row's file path so too).
INGEST_DATE_SEGMENT = "/ingest_date="


def ingest_date_in_path(path: str) -> date | None:
    """The ingest date in a raw vendor object's or a layer file's path or URI; ``None`` when there is none."""
    _, found, rest = path.rpartition(INGEST_DATE_SEGMENT)
    try:
        return date.fromisoformat(rest[:10]) if found and rest[10:11] == "/" else None
    except ValueError:
        return None


def layer_key(inputs: Iterable[str], tagger_model: str | None) -> str:
    """The key of a vendor date's layer: what its rows are a function of.

    ``inputs`` are the date's vendor files as ``NAME#GENERATION`` lines (the planner's pins); the review tagger's
    model (its URI names one model version) and ``LAYER_VERSION`` are one line each. SHA-256 over the sorted lines,
    each ending in a newline, as the build id is made.
    """
    lines = [*inputs, f"layer#{LAYER_VERSION}"] + ([f"tagger#{tagger_model}"] if tagger_model else [])
    digest = hashlib.sha256("".join(line + "\n" for line in sorted(lines)).encode("utf-8")).hexdigest()
    return digest[:LAYER_KEY_HEX_DIGITS]


def layer_marker_name(ingest_date: date, key: str) -> str:
    return f"{CLASSIFIED_PREFIX}ingest_date={ingest_date.isoformat()}/{key}/{LAYER_MARKER_NAME}"


def layer_folder(build_id: str, attempt: str) -> str:
    """Where one build attempt writes the layer files of every date it classifies (``SOURCE/ingest_date=D/``)."""
    return f"{CLASSIFIED_PREFIX}build_id={build_id}/attempt={check_attempt_id(attempt)}/"


def gs_uri(bucket: str, name: str) -> str:
    return f"gs://{bucket}/{name}"


def split_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/name`` -> ``(bucket, name)``."""
    if not uri.startswith("gs://"):
        raise LayoutError(f"not a gs:// URI: {uri!r}")
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not bucket or not name:
        raise LayoutError(f"gs:// URI needs a bucket and an object name: {uri!r}")
    return bucket, name


# A build input names the generation it was planned from, as gsutil and gcloud write a version: gs://B/NAME#G.
GENERATION_MARK = "#"
# Where the local mirror keeps every staged generation of one object, next to the object's own path.
MIRROR_GENERATIONS_SUFFIX = ".generations"


def pinned_uri(bucket: str, name: str, generation: int) -> str:
    """``gs://bucket/name#generation``: one version of one object, the form every build input travels in."""
    if generation <= 0:
        raise LayoutError(f"a generation is a positive integer, got {generation!r}")
    return f"{gs_uri(bucket, name)}{GENERATION_MARK}{generation}"


def split_pinned_uri(uri: str) -> tuple[str, str, int]:
    """``gs://bucket/name#generation`` -> ``(bucket, name, generation)``.

    The generation is the digits after the last ``#``, so a name that itself holds ``#`` still parses (the
    raw layout has none); a URI without them is not pinned and is refused.
    """
    base, mark, generation = uri.rpartition(GENERATION_MARK)
    if not mark or not generation.isdigit() or not generation.isascii() or int(generation) <= 0:
        raise LayoutError(f"expected gs://bucket/name{GENERATION_MARK}GENERATION, got {uri!r}")
    bucket, name = split_gs_uri(base)
    return bucket, name, int(generation)


def unpin(uri: str) -> tuple[str, int | None]:
    """The object a URI names and the generation it pins: ``gs://b/n#G`` -> ``("gs://b/n", G)``; any URI that
    pins nothing (an output, a ``file://`` test input) -> ``(uri, None)``."""
    try:
        bucket, name, generation = split_pinned_uri(uri)
    except LayoutError:
        return uri, None
    return gs_uri(bucket, name), generation


def input_gone(uri: str) -> str:
    """Why a build cannot read a pinned input: the same words from the local endpoint and from the job."""
    bucket, name, generation = split_pinned_uri(uri)
    return f"input {gs_uri(bucket, name)} generation {generation} is gone (overwritten or deleted)"


def mirror_name(uri: str) -> str:
    """Where the local Dataproc endpoint's mirror keeps a ``gs://`` URI, relative to the mirror folder.

    ``gs://B/NAME`` (code files, outputs) is ``B/NAME``. A pinned input ``gs://B/NAME#G`` is
    ``B/NAME.generations/G/BASENAME``: each generation has a file of its own, written once, so a batch reading
    one generation never sees another batch stage a newer one, and the file keeps its name (Spark picks the
    codec from the extension). The endpoint writes it, the job reads it: both call this.
    """
    try:
        bucket, name, generation = split_pinned_uri(uri)
    except LayoutError:
        bucket, name = split_gs_uri(uri)
        return f"{bucket}/{name}"
    return f"{bucket}/{name}{MIRROR_GENERATIONS_SUFFIX}/{generation}/{name.rsplit('/', 1)[-1]}"
