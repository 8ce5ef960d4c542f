"""Which OBT build is due, decided from the raw bucket's listing alone (no I/O but reading manifests and logging).

A build uses the newest purchase snapshot (newest ingest date, then newest manifest generation) plus every
vendor date whose ``movie_review`` and ``log_reviews`` files are both present. Zero-byte objects count as
absent: GCS may finalize an empty object before the real upload replaces it. The build id hashes the
(name, generation) of every input (docs/contracts.md "Build id"), the review tagger's model URI when there is
one, and the version of the classified layer (``layer#V``, ``obt_contract.layout.LAYER_VERSION``), so the same
inputs, model and layer rules always give the same id and any new input, model or rule version a new one. The job
reads each vendor date from the classified layer when an earlier build classified it; that layer is a function of
those same lines (the date's files, the model, the layer version), so whether it exists yet does not change the id:
a redelivered event plans the same build either way.

The snapshot must be consistent: every part its manifest names is listed at the generation, size and crc32c
the manifest records (``obt.extract.integrity``; fields a hand-made manifest does not record are not
compared). The extract writes the manifest only after every part, and never overwrites a part, so a
mismatch means the snapshot was damaged after it was announced: it is *corrupt*, not incomplete. Decision:
a corrupt (or unusable) newest snapshot is not replaced by an older one. Building from the older snapshot
would load yesterday's purchases under today's vendor files without anyone noticing, and a build from the
damaged one would load data that is not its manifest's. So the plan has no build, the trigger waits (naming
the snapshot in ``missing``), and the planner logs an ERROR naming the manifest and every part that differs,
on every event until a newer snapshot (an export under a new run id) supersedes it. Only a manifest that
vanished while planning (deleted, so no longer announced) makes way for the previous one.

``decide`` then says what one triggering object means for that build: submit it, keep waiting
(naming what is missing) or ignore the object (and why).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from obt.extract.integrity import ManifestPart, manifest_parts, part_mismatches, snapshot_folder
from obt.log import get_logger
from obt.objects import ListedObject
from obt_contract.layout import LAYER_VERSION, LayoutError, RawObject, classify_raw, pinned_uri
from obt_contract.message import BUILD_ID_HEX_DIGITS, BUILD_ID_PREFIX
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES

log = get_logger(__name__)


@dataclass(frozen=True)
class BuildPlan:
    build_id: str
    input_watermark: int
    purchases_manifest: ListedObject
    purchases: tuple[ListedObject, ...]
    movie_reviews: tuple[ListedObject, ...]
    log_reviews: tuple[ListedObject, ...]
    vendor_dates: tuple[date, ...]
    tagger_model: str = ""  # the review tagger's model folder (Settings.tagger_model_uri); "" = no tagging
    # An operator's rebuild (``rebuilt``): every vendor date classified again, or only these dates.
    full_rebuild: bool = False
    reclassify: tuple[date, ...] = ()

    @property
    def inputs(self) -> tuple[ListedObject, ...]:
        return (self.purchases_manifest, *self.purchases, *self.movie_reviews, *self.log_reviews)

    def uses(self, name: str, generation: int) -> bool:
        return any(obj.name == name and obj.generation == generation for obj in self.inputs)

    def job_args(
        self,
        raw_bucket: str,
        curated_bucket: str,
        topic: str,
        max_quarantine_share: float,
    ) -> list[str]:
        """Arguments of ``spark_jobs/build_obt.py`` (docs/contracts.md): every input named, nothing listed.

        Each input is pinned to the generation the build id hashes (``gs://RAW/NAME#G``), so the job reads the
        version this plan chose or fails saying which input moved (docs/contracts.md, "Pinned inputs").
        A rebuild (``rebuilt``) adds ``--full-rebuild`` (every vendor date classified again instead of read from the
        classified layer: the same OBT, at the cost of reading every file) or a ``--reclassify-date`` per date.
        """
        args = ["--build-id", self.build_id, "--input-watermark", str(self.input_watermark)]
        for flag, objects in (
            ("--purchases-manifest", (self.purchases_manifest,)),
            ("--purchases", self.purchases),
            ("--movie-reviews", self.movie_reviews),
            ("--log-reviews", self.log_reviews),
        ):
            for obj in objects:
                args += [flag, pinned_uri(raw_bucket, obj.name, obj.generation)]
        args += [
            "--output",
            f"gs://{curated_bucket}",
            "--topic",
            topic,
            "--max-quarantine-share",
            repr(float(max_quarantine_share)),
        ]
        if self.tagger_model:
            args += ["--tagger-model", self.tagger_model]
        if self.full_rebuild:
            args.append("--full-rebuild")
        for day in self.reclassify:
            args += ["--reclassify-date", day.isoformat()]
        return args

    def rebuilt(self, dates: Sequence[date] | None, requested_at: str) -> BuildPlan:
        """This build again with every vendor date (``dates`` None) or ``dates`` classified again, under an id
        of its own: the request (``rebuild#WHAT@WHEN``) is one more line of the hash, so Dataproc takes it as a new
        batch while the event-driven build of the same inputs keeps its id. Same inputs, same watermark: the load
        takes it, and its MERGE changes nothing unless the classified layer was wrong.
        """
        if dates is not None:
            unknown = sorted(set(dates) - set(self.vendor_dates))
            if unknown or not dates:
                raise ValueError(
                    f"not a vendor date of this build: {', '.join(d.isoformat() for d in unknown) or 'none given'} "
                    f"(its dates: {', '.join(d.isoformat() for d in self.vendor_dates)})"
                )
        what = "all" if dates is None else ",".join(d.isoformat() for d in sorted(set(dates)))
        return replace(
            self,
            build_id=build_id_for(self.inputs, self.tagger_model, request=f"rebuild#{what}@{requested_at}"),
            full_rebuild=dates is None,
            reclassify=() if dates is None else tuple(sorted(set(dates))),
        )

    def summary(self) -> dict[str, Any]:
        return {
            "build_id": self.build_id,
            "input_watermark": self.input_watermark,
            "purchases_manifest": self.purchases_manifest.name,
            "purchase_parts": len(self.purchases),
            "vendor_dates": [d.isoformat() for d in self.vendor_dates],
        }


@dataclass(frozen=True)
class Exclusion:
    """Why a relevant object is not part of the build; ``waiting`` if it may join once something arrives."""

    reason: str
    waiting: bool


@dataclass(frozen=True)
class Plan:
    build: BuildPlan | None
    missing: tuple[str, ...]
    excluded: Mapping[str, Exclusion] = field(default_factory=dict)
    generations: Mapping[str, int] = field(default_factory=dict)  # current generation of every listed name


@dataclass(frozen=True)
class Decision:
    action: str  # "submit" | "waiting" | "ignored"
    reason: str
    missing: tuple[str, ...] = ()


def build_id_for(inputs: Iterable[ListedObject], tagger_model: str = "", request: str = "") -> str:
    """The id of the build of ``inputs`` scored by ``tagger_model`` (docs/contracts.md "Build id").

    The model is one more line, ``tagger#URI``: its URI names one model version (the job checks its card), so a
    new model makes a new build. The classified layer's version is another, ``layer#V``: rows classified under
    other rules make another build of the same inputs.
    """
    lines = [f"{obj.name}#{obj.generation}" for obj in inputs] + [f"layer#{LAYER_VERSION}"]
    if tagger_model:
        lines.append(f"tagger#{tagger_model}")
    if request:  # an operator's rebuild (BuildPlan.rebuilt)
        lines.append(request)
    digest = hashlib.sha256("".join(line + "\n" for line in sorted(lines)).encode("utf-8")).hexdigest()
    return BUILD_ID_PREFIX + digest[:BUILD_ID_HEX_DIGITS]


ReadManifest = Callable[[ListedObject], Mapping[str, Any] | None]
"""Returns the parsed manifest, ``None`` if it vanished; raises ``ValueError`` if it is unreadable."""


def _manifest_parts(doc: Any, manifest: RawObject) -> list[ManifestPart]:
    """The parts a purchase snapshot manifest lists; ``ValueError`` if it is not one."""
    if not isinstance(doc, Mapping):
        raise ValueError("manifest is not a JSON object")
    if doc.get("kind") != "snapshot" or doc.get("table") != PURCHASES:
        raise ValueError(f"manifest kind/table is {doc.get('kind')!r}/{doc.get('table')!r}, not snapshot/{PURCHASES}")
    return manifest_parts(doc, snapshot_folder(manifest.name))


def _snapshot(
    manifests: Sequence[tuple[RawObject, ListedObject]],
    by_name: Mapping[str, ListedObject],
    read_manifest: ReadManifest,
    excluded: dict[str, Exclusion],
    missing: list[str],
) -> tuple[ListedObject, tuple[ListedObject, ...]] | None:
    """The newest snapshot if it is consistent; a corrupt or unusable newest one blocks (module docstring)."""
    newest: ListedObject | None = None
    chosen: tuple[ListedObject, tuple[ListedObject, ...]] | None = None
    # Newest first: business date, then upload order (generation) for reruns on the same date.
    for raw, listed in sorted(manifests, key=lambda m: (m[0].ingest_date, m[1].generation, m[1].name), reverse=True):
        if newest is not None:
            excluded[listed.name] = Exclusion(f"superseded by the newer snapshot {newest.name}", waiting=False)
            continue
        try:
            doc = read_manifest(listed)
            if doc is None:
                excluded[listed.name] = Exclusion("manifest vanished while planning", waiting=False)
                continue
            parts = _manifest_parts(doc, raw)
        except ValueError as exc:
            problem = f"snapshot manifest unusable: {exc}"
        else:
            mismatches = part_mismatches(parts, by_name)
            if not mismatches:
                newest, chosen = listed, (listed, tuple(sorted(by_name[part.name] for part in parts)))
                continue
            problem = "snapshot corrupt: " + "; ".join(map(str, mismatches))  # names each part and what differs
        newest = listed
        log.error(
            "newest purchase snapshot cannot be used: no build until a newer snapshot supersedes it",
            manifest=listed.name,
            problem=problem,
            remedy="export again under a new run_id",
        )
        excluded[listed.name] = Exclusion(problem, waiting=True)
        missing.append(
            f"a consistent {PURCHASES} snapshot to replace the newest one, {listed.name} ({problem}); "
            "export again under a new run_id"
        )
    if newest is None:
        missing.append(f"a complete {PURCHASES} snapshot ({PURCHASES}/ingest_date=D/run_id=R/_MANIFEST.json)")
    return chosen


def plan_build(listing: Iterable[ListedObject], read_manifest: ReadManifest, tagger_model: str = "") -> Plan:
    """The build ``listing`` makes (module docstring), its reviews scored by ``tagger_model`` when one is given."""
    excluded: dict[str, Exclusion] = {}
    by_name: dict[str, ListedObject] = {}
    manifests: list[tuple[RawObject, ListedObject]] = []
    vendor: dict[date, dict[str, list[ListedObject]]] = {}
    for obj in listing:
        by_name[obj.name] = obj
        try:
            raw = classify_raw(obj.name)
        except LayoutError as exc:
            excluded[obj.name] = Exclusion(f"unparsable object name: {exc}", waiting=False)
            continue
        if raw is None:
            continue
        if obj.size == 0:
            excluded[obj.name] = Exclusion("zero-byte object (the upload has not replaced it yet)", waiting=True)
            continue
        if raw.kind == "snapshot_manifest" and raw.source == PURCHASES:
            manifests.append((raw, obj))
        elif raw.kind == "vendor":
            vendor.setdefault(raw.ingest_date, {}).setdefault(raw.source, []).append(obj)

    generations = {name: obj.generation for name, obj in by_name.items()}
    missing: list[str] = []
    snapshot = _snapshot(manifests, by_name, read_manifest, excluded, missing)

    complete_dates = []
    for day in sorted(vendor):
        sources = vendor[day]
        if MOVIE_REVIEW in sources and LOG_REVIEWS in sources:
            complete_dates.append(day)
            continue
        have, lacking = (MOVIE_REVIEW, LOG_REVIEWS) if MOVIE_REVIEW in sources else (LOG_REVIEWS, MOVIE_REVIEW)
        need = f"{lacking}/ingest_date={day.isoformat()}/{lacking}.csv[.gz]"
        missing.append(need)
        for obj in sources[have]:
            excluded[obj.name] = Exclusion(f"waiting for {need}", waiting=True)
    if not complete_dates:
        missing.append(f"a vendor date with both {MOVIE_REVIEW} and {LOG_REVIEWS} files")

    if snapshot is None or not complete_dates:
        return Plan(build=None, missing=tuple(missing), excluded=excluded, generations=generations)
    manifest, parts = snapshot
    movie_reviews = tuple(sorted(o for d in complete_dates for o in vendor[d][MOVIE_REVIEW]))
    log_reviews = tuple(sorted(o for d in complete_dates for o in vendor[d][LOG_REVIEWS]))
    inputs = (manifest, *parts, *movie_reviews, *log_reviews)
    build = BuildPlan(
        build_id=build_id_for(inputs, tagger_model),
        input_watermark=max(obj.generation for obj in inputs),
        purchases_manifest=manifest,
        purchases=parts,
        movie_reviews=movie_reviews,
        log_reviews=log_reviews,
        vendor_dates=tuple(complete_dates),
        tagger_model=tagger_model,
    )
    return Plan(build=build, missing=tuple(missing), excluded=excluded, generations=generations)


def decide(plan: Plan, name: str, generation: int) -> Decision:
    """What the arrival of object ``name`` at ``generation`` means for the planned build.

    Raises ``LookupError`` when the listing does not show that generation yet: only a retry can tell.
    """
    current = plan.generations.get(name)
    if current is None:
        return Decision("ignored", "object no longer exists")
    if current > generation:
        return Decision("ignored", f"superseded by generation {current}, which has its own event")
    if current < generation:
        raise LookupError(f"listing shows generation {current} of {name}, event announced {generation}")
    if plan.build is not None and plan.build.uses(name, generation):
        return Decision("submit", "all inputs present", plan.missing)
    exclusion = plan.excluded.get(name)
    if exclusion is not None and not exclusion.waiting:
        return Decision("ignored", exclusion.reason)
    if exclusion is not None:
        return Decision("waiting", exclusion.reason, plan.missing)
    if plan.build is None:
        return Decision("waiting", "build inputs incomplete", plan.missing)
    return Decision("ignored", "object is not an input of the current build")
