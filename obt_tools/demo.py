"""``obt demo``: the whole event-driven chain on the local cloud, nothing short-circuited.

The demo only does what the outside world does in production: it seeds the source database, calls
``extract_postgres`` over HTTP the way Cloud Scheduler does, and uploads the vendor files into the raw
bucket. Everything after that is the system's own doing: storage notifications → Eventarc stand-in →
``on_raw_landed`` → local Dataproc → Spark job → Pub/Sub → ``load_obt`` → DuckDB. The demo watches the
traces each stage leaves (the Dataproc batch, the curated manifest, the load ledger) and reports timings.

Decisions:

- The input files are checked (present, non-empty, readable compression and UTF-8, the expected header, a row)
  before the local cloud starts: a wrong folder or file costs a second, not the ~20 s of a start.
- The purchase snapshot is named after the rows seeded (run id ``seed-<digest>``): re-seeding other content on
  the same state and day makes a new snapshot instead of reusing the previous one, and seeding the same content
  again reuses its snapshot. Production keeps one ``scheduled`` snapshot a day; the demo is the "new data the
  same day" case ``obt.extract.request`` describes. The build the system then plans must read that snapshot:
  if the raw bucket holds a newer one (a later ingest date), the demo stops and says so.
- A build that fails (its batch, or its manifest's data-quality verdict) is :class:`BuildFailed`, carrying the
  stages and the manifest so the summary can show where it stopped and the rows per source.
- SIGTERM and SIGHUP stop the run as Ctrl-C does, the local cloud included (``procs.stop_signals_interrupt``).
- The review tagger (``obt_tools.tagger``) is trained once and cached under ``STATE/tagger/<model_version>/``
  (:func:`tagger_model`): a cached model is reused while its card names the same labels file (SHA-256), training
  code (``card.code_sha256``) and Spark version, the three things besides the code's fixed parameters that its
  version is derived from; so no JVM starts just to decide. Training runs as ``obt tagger train`` in a child
  process, so its JVM ends with it instead of holding memory beside the local cloud's. The local cloud runs with
  ``OBT_TAGGER_MODEL_URI`` = the model's ``file://`` folder (the local Dataproc endpoint mirrors objects, not
  folders; the driver reads the local folder itself). Older versions stay in the cache (under 1 MB each).

:class:`DemoSession` exposes the steps one by one so end-to-end tests can replay them in other orders
(vendor files first, duplicate uploads, a second day).
"""

from __future__ import annotations

import csv
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import requests
from google.api_core import exceptions as gexc

from obt import clients
from obt.config import Settings
from obt.errors import UserError
from obt.extract import postgres
from obt.log import get_logger
from obt.objects import ListedObject
from obt.services import Services
from obt.trigger.planner import BuildPlan
from obt.trigger.service import current_plan
from obt_contract import layout, sources
from obt_tools import generate, seed
from obt_tools.local import procs, stack
from obt_tools.local.dataproc import runner
from obt_tools.tagger.labels import LabelledReviews, read_labels

log = get_logger(__name__)

SOURCES = (sources.PURCHASES, sources.MOVIE_REVIEW, sources.LOG_REVIEWS)
SUFFIXES = (".csv", ".csv.gz", ".csv.xz")
DEFAULT_SEED = 42
WAIT_TIMEOUT_SECONDS = 20 * 60
POLL_SECONDS = 0.25
SPARK_STAGE = "Spark job (local Dataproc)"
TAGGER_STAGE = "train review tagger"
# Where the demo finds labelled reviews unless told: the shared data folder next to the repository.
DEFAULT_TAGGER_LABELS = stack.REPO_ROOT.parent / "shared" / "data" / "imdb_reviews_labeled.csv.gz"
# The cache of trained models under the state folder, and the log of the last training there.
TAGGER_FOLDER = "tagger"
TAGGER_LOG = "train.log"
# The header each input must start with: what the real files and the generator have.
HEADERS = {
    sources.PURCHASES: generate.PURCHASE_HEADER,
    sources.MOVIE_REVIEW: generate.REVIEW_HEADER,
    sources.LOG_REVIEWS: generate.LOG_HEADER,
}
# Enough text for the header and a first record (reviews run to a few KB), little enough to read in a blink.
CHECK_CHARS = 256 * 1024
# How much of the driver log's end the progress line reads.
PROGRESS_TAIL_BYTES = 64 * 1024


class BuildFailed(UserError):
    """The chain ran and the build failed; ``stages`` and ``manifest`` (``{}`` without one) say where and how."""

    def __init__(self, build_id: str, reason: str, stages: list[Stage], manifest: dict[str, Any] | None = None) -> None:
        super().__init__(f"build {build_id} failed: {reason}")
        self.build_id = build_id
        self.stages = stages
        self.manifest = manifest or {}


@dataclass
class InputFiles:
    purchases: Path
    movie_review: Path
    log_reviews: Path

    def vendor(self) -> dict[str, Path]:
        return {sources.MOVIE_REVIEW: self.movie_review, sources.LOG_REVIEWS: self.log_reviews}


def find_inputs(data_dir: Path) -> InputFiles:
    """The three source files in ``data_dir`` as ``.csv``, ``.csv.gz`` or ``.csv.xz``."""
    found: dict[str, Path] = {}
    for source in SOURCES:
        candidates = [
            data_dir / f"{source}{suffix}" for suffix in SUFFIXES if (data_dir / f"{source}{suffix}").is_file()
        ]
        if not candidates:
            raise UserError(f"{data_dir} has no {source}.csv, .csv.gz or .csv.xz")
        found[source] = candidates[0]
    return InputFiles(found[sources.PURCHASES], found[sources.MOVIE_REVIEW], found[sources.LOG_REVIEWS])


def check_input(source: str, path: Path) -> None:
    """One line saying what is wrong with an input file, if anything, read from its start only.

    Checked: not empty, decompresses (``.gz``/``.xz``), is UTF-8 text, starts with ``HEADERS[source]`` exactly
    (the Spark job compares header names exactly too), and has a record after the header. The rest of the file
    is the pipeline's to judge: bad records are quarantined with their reason.
    """
    if path.stat().st_size == 0:
        raise UserError(f"{path} is empty")
    try:
        with seed.open_text(path) as text:
            head = text.read(CHECK_CHARS)
    except UnicodeDecodeError as exc:
        raise UserError(f"{path} is not UTF-8 text ({exc.reason} near its start)") from None
    except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
        raise UserError(f"{path} cannot be decompressed: {exc}") from None
    expected = HEADERS[source]
    try:
        records = csv.reader(io.StringIO(head, newline=""))
        header = next(records, None)
        first = next(records, None)
    except csv.Error as exc:
        raise UserError(f"{path} is not CSV near its start: {exc}") from None
    if header is None or tuple(header) != expected:
        found = ",".join(header or [])
        raise UserError(f"{path} must start with the header {','.join(expected)}; found {found[:80]!r}")
    if first is None:
        raise UserError(f"{path} has a header but no rows")


def check_inputs(files: InputFiles) -> InputFiles:
    """``files`` if every one passes :func:`check_input`; else one line naming every problem, not just the first."""
    problems = []
    for source, path in ((sources.PURCHASES, files.purchases), *files.vendor().items()):
        try:
            check_input(source, path)
        except UserError as exc:
            problems.append(str(exc))
    if problems:
        raise UserError("; ".join(problems))
    return files


def generated_inputs(out: Path, scale: float, seed_value: int, id_offset: int = 0) -> InputFiles:
    """Generate once per (scale, seed, offset, generator version) and reuse: the generator is deterministic."""
    done = out / ".complete"
    made = generate.made_from(scale=scale, seed=seed_value, id_offset=id_offset)
    if not generate.is_current(done, made):
        log.info("generating input files", folder=str(out), scale=scale, seed=seed_value)
        generate.generate(out, scale, seed=seed_value, id_offset=id_offset)
        done.write_text(made)
    return find_inputs(out)


def vendor_object(source: str, path: Path, ingest_date: date, cache_dir: Path) -> tuple[str, Path]:
    """Object name and local file for a vendor upload.

    ``.csv`` and ``.csv.gz`` go up as they are. The raw layout has no ``.xz`` (Spark cannot read it), so an
    ``.xz`` file is decompressed once into ``cache_dir`` and uploaded as ``.csv``, as the vendor would send it.
    """
    prefix = layout.vendor_prefix(source, ingest_date)
    if path.name.endswith(".csv.xz"):
        plain = cache_dir / f"{source}.csv"
        if not plain.exists() or plain.stat().st_mtime < path.stat().st_mtime:
            cache_dir.mkdir(parents=True, exist_ok=True)
            tmp = plain.with_suffix(".partial")
            with lzma.open(path) as src, tmp.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            tmp.replace(plain)
        return f"{prefix}{source}.csv", plain
    suffix = ".csv.gz" if path.name.endswith(".csv.gz") else ".csv"
    return f"{prefix}{source}{suffix}", path


@contextmanager
def restored_environment() -> Iterator[None]:
    """Undo what :meth:`DemoSession.start` does to this process's environment (tests, benchmarks)."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        clients.reset()


@dataclass
class Stage:
    name: str
    started: float | None = None
    finished: float | None = None
    detail: str = ""
    failed: bool = False

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.monotonic()) - self.started


@dataclass
class LoadOutcome:
    build_id: str
    batch: dict[str, Any]
    manifest: dict[str, Any]
    ledger: dict[str, Any]
    last_upload_at: float
    submitted_at: float
    spark_seconds: float
    loaded_at: float

    @property
    def latency_seconds(self) -> float:
        """From the last input upload to the OBT loaded."""
        return self.loaded_at - self.last_upload_at

    @property
    def outside_spark_seconds(self) -> float:
        return max(0.0, self.latency_seconds - self.spark_seconds)


@dataclass
class DemoSession:
    """The local cloud plus the demo's client-side view of it (this process acts as scheduler and vendor)."""

    state_dir: Path
    stages: list[Stage] = field(default_factory=list)
    on_change: Callable[[DemoSession], None] | None = None
    # Tests set it so the local cloud dies with them even when they are killed before ``stop``.
    die_with_parent: bool = False
    settings: Settings = field(init=False)
    last_upload_at: float = field(init=False, default=0.0)
    # What was seeded and the snapshot extracted from it (object name of its manifest).
    seeded: seed.SeedResult | None = field(init=False, default=None)
    snapshot: str | None = field(init=False, default=None)
    # The batch as GetBatch last showed it while waiting (state, state_message, driver_log).
    batch: dict[str, Any] = field(init=False, default_factory=dict)
    # The review tagger's model the local cloud runs with (OBT_TAGGER_MODEL_URI); "" = no tagging.
    tagger_model_uri: str = ""

    def start(self) -> None:
        with self.stage("start local cloud"):
            os.environ[stack.TAGGER_MODEL_ENV] = self.tagger_model_uri
            # A cloud left running (--keep-running) keeps the model it started with, and the build id hashes the
            # model: restart it rather than build with another model than this run's.
            if stack.running(self.state_dir) and self._running_tagger_model() != self.tagger_model_uri:
                log.info("restarting the local cloud for another tagger model", model=self.tagger_model_uri)
                stack.down(self.state_dir)
            stack.up(self.state_dir, die_with_parent=self.die_with_parent)
            os.environ.update(stack.stack_env(self.state_dir))
            clients.reset()
            self.settings = Settings.from_env()

    def stop(self) -> None:
        stack.down(self.state_dir)

    def _running_tagger_model(self) -> str:
        return stack.stack_env(self.state_dir).get(stack.TAGGER_MODEL_ENV, "")

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        current = Stage(name, started=time.monotonic())
        self.stages.append(current)
        self._changed()
        try:
            yield current
        except BaseException:
            current.failed = True
            raise
        finally:
            current.finished = time.monotonic()
            self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self)

    def service_url(self, name: str) -> str:
        record = stack.read_stack(self.state_dir) or {}
        try:
            return record["services"][name]["url"]
        except KeyError:
            raise UserError(f"the local cloud has no {name} service; is functions/{name}/main.py there?") from None

    def seed_postgres(self, csv_path: Path) -> int:
        with self.stage("seed PostgreSQL") as current:
            conn = postgres.connect(self.settings)
            try:
                self.seeded = seed.seed(conn, csv_path)
            finally:
                conn.close()
            current.detail = f"{self.seeded.rows:,} rows"
        return self.seeded.rows

    def extract(self, ingest_date: date) -> dict[str, Any]:
        """What Cloud Scheduler does: POST the job's body to the function's URL.

        After a seed, the body names the snapshot after the seeded rows (:func:`snapshot_run_id`).
        """
        with self.stage("extract (scheduler → extract_postgres)") as current:
            body: dict[str, Any] = {"tables": [sources.PURCHASES], "ingest_date": ingest_date.isoformat()}
            if self.seeded is not None:
                body["run_id"] = snapshot_run_id(self.seeded.digest, self._snapshots_of(ingest_date))
            response = requests.post(
                self.service_url("extract_postgres"),
                json=body,
                headers={"User-Agent": "Google-Cloud-Scheduler"},
                timeout=600,
            )
            if response.status_code != 200:
                raise UserError(f"extract_postgres answered {response.status_code}: {response.text[:500]}")
            [snapshot] = response.json()["snapshots"]
            manifest = snapshot["manifest"]
            self.snapshot = layout.snapshot_manifest_name(sources.PURCHASES, ingest_date, manifest["run_id"])
            reused = " (complete snapshot reused)" if snapshot["reused"] else ""
            current.detail = f"{manifest['total_rows']:,} rows in {len(manifest['parts'])} part(s){reused}"
            self.last_upload_at = time.monotonic()
        return manifest

    def _snapshots_of(self, ingest_date: date) -> list[tuple[str, int]]:
        """(run id, generation) of every purchase snapshot manifest in the raw bucket for ``ingest_date``."""
        objects = Services.from_settings(self.settings).objects
        listing = objects.list_objects(self.settings.raw_bucket, f"{sources.PURCHASES}/")
        return [
            (raw.run_id, obj.generation)
            for obj, raw in _classified(listing)
            if raw.kind == "snapshot_manifest" and raw.ingest_date == ingest_date
        ]

    def upload_vendor(self, source: str, path: Path, ingest_date: date) -> str:
        """What the vendor does: put the file into the raw bucket."""
        name, local = vendor_object(source, path, ingest_date, self.state_dir / "data" / "vendor-plain")
        with self.stage(f"upload {name}") as current:
            blob = clients.storage(self.settings).bucket(self.settings.raw_bucket).blob(name)
            content_type = "application/gzip" if name.endswith(".gz") else "text/csv"
            blob.upload_from_filename(str(local), content_type=content_type)
            current.detail = f"{local.stat().st_size / 1e6:.1f} MB"
            self.last_upload_at = time.monotonic()
        return name

    def expected_build(self) -> BuildPlan:
        """The build the system must make from what the raw bucket holds now (same planner as on_raw_landed)."""
        plan = current_plan(self.settings, Services.from_settings(self.settings))
        if plan.build is None:
            raise UserError("no build is due yet; missing: " + "; ".join(plan.missing))
        chosen = plan.build.purchases_manifest.name
        if self.snapshot is not None and chosen != self.snapshot:
            raise UserError(
                f"the build would read the purchase snapshot {chosen}, not {self.snapshot} extracted from the rows "
                "just seeded (the raw bucket holds a newer one): use a later --ingest-date or another --state-dir"
            )
        return plan.build

    def wait_for_load(self, build_id: str, timeout: float = WAIT_TIMEOUT_SECONDS) -> LoadOutcome:
        """Watch the batch, the curated manifest and the ledger until the build is loaded (or fails)."""
        deadline = time.monotonic() + timeout
        started = self.last_upload_at or time.monotonic()
        routing = Stage("event → batch submitted", started=started)
        spark = Stage(SPARK_STAGE)
        loading = Stage("completion message → load_obt MERGE")
        self.stages += [routing, spark, loading]
        batch_name = f"projects/{self.settings.project}/locations/{self.settings.region}/batches/{build_id}"
        manifest_name = layout.build_manifest_name(build_id)
        batch: dict[str, Any] = {}
        manifest: dict[str, Any] = {}
        submitted_at = 0.0
        while time.monotonic() < deadline:
            if not batch or batch.get("state") not in ("SUCCEEDED", "FAILED", "CANCELLED"):
                batch = self.batch = self._batch(batch_name)
                if batch and routing.finished is None:
                    routing.finished = submitted_at = time.monotonic()
                    spark.started = submitted_at
                    routing.detail = f"batch {build_id}"
                if batch:
                    spark.detail = batch["state"]
                if batch.get("state") in ("FAILED", "CANCELLED"):
                    spark.finished = time.monotonic()
                    spark.failed = True
                    self._changed()
                    reason = f"batch {batch['state']}: {batch['state_message'] or 'no state message'}"
                    if batch["driver_log"]:
                        reason += f"; driver log {batch['driver_log']}"
                    raise BuildFailed(build_id, reason, self.stages)
            if batch.get("state") == "SUCCEEDED" and not manifest:
                manifest = self._read_curated_json(manifest_name)
                if manifest:
                    spark.finished = loading.started = time.monotonic()
                    spark.detail = f"status {manifest['status']}, {manifest['obt']['rows']:,} OBT rows"
            if manifest:
                ledger = self._ledger(build_id)
                if ledger is not None:
                    loading.finished = time.monotonic()
                    loading.detail = ledger_detail(ledger)
                    self._changed()
                    assert spark.started is not None and spark.finished is not None
                    return LoadOutcome(
                        build_id,
                        batch,
                        manifest,
                        ledger,
                        started,
                        submitted_at,
                        spark.finished - spark.started,
                        loading.finished,
                    )
            self._changed()
            time.sleep(POLL_SECONDS)
        logs = self.state_dir / "logs"
        raise UserError(f"build {build_id} was not loaded within {timeout:.0f} s; see the service logs in {logs}")

    def _batch(self, name: str) -> dict[str, Any]:
        from google.cloud import dataproc_v1

        try:
            found = clients.batches(self.settings).get_batch(name=name)
        except gexc.NotFound:
            return {}
        output = found.runtime_info.output_uri
        return {
            "state": dataproc_v1.Batch.State(found.state).name,
            "state_message": found.state_message,
            # The local endpoint's driver log is a file:// URI; anything else is not a local file.
            "driver_log": output.removeprefix("file://") if output.startswith("file://") else "",
        }

    def heartbeat(self, now: float) -> str | None:
        """A line on the stage being waited on (``None`` if none runs), for output that is not a terminal.

        For the Spark job: the batch's state, its driver log and, from that log's end, the job's last step and
        Spark's last stage progress; for the tagger's training, its log. ``now`` is on the clock of
        ``Stage.started`` (``time.monotonic``).
        """
        running = [s for s in self.stages if s.started is not None and s.finished is None]
        if not running:
            return None
        stage = running[-1]
        assert stage.started is not None
        facts = ["still running"]
        if stage.name == TAGGER_STAGE:
            facts.append(f"log {self.state_dir / TAGGER_FOLDER / TAGGER_LOG}")
        if stage.name == SPARK_STAGE and self.batch:
            facts.append(f"batch {self.batch['state']}")
            if self.batch["driver_log"]:
                log_path = Path(self.batch["driver_log"])
                facts.append(f"driver log {log_path}")
                facts += spark_progress(runner.read_tail(log_path, PROGRESS_TAIL_BYTES))
        return f"[{now - stage.started:6.1f} s] {stage.name}: {', '.join(facts)}"

    def _read_curated_json(self, name: str) -> dict[str, Any]:
        blob = clients.storage(self.settings).bucket(self.settings.curated_bucket).blob(name)
        try:
            return json.loads(blob.download_as_bytes())
        except gexc.NotFound:
            return {}

    def _ledger(self, build_id: str) -> dict[str, Any] | None:
        from obt.warehouse import open_warehouse

        if not self.settings.warehouse_path.exists():
            return None
        rows = open_warehouse(self.settings).query(
            f"SELECT * FROM {self.settings.ops_dataset}.load_ledger WHERE build_id = @build_id "
            "AND outcome IN ('loaded', 'skipped') ORDER BY finished_at DESC LIMIT 1",
            {"build_id": build_id},
        )
        return rows[0] if rows else None


def _classified(listing: Iterable[ListedObject]) -> Iterator[tuple[ListedObject, layout.RawObject]]:
    for obj in listing:
        try:
            raw = layout.classify_raw(obj.name)
        except layout.LayoutError:
            continue  # not the pipeline's object; the planner reports it
        if raw is not None:
            yield obj, raw


def snapshot_run_id(digest: str, snapshots: list[tuple[str, int]]) -> str:
    """The run id for a snapshot of the rows seeded with ``digest``, given the day's (run id, generation) list.

    ``seed-<16 hex digits of the digest>``: the extract reuses that snapshot when the same rows were seeded
    before, and exports a new one otherwise. Reuse is only right while it is the day's newest snapshot (the
    planner takes the newest); after other rows were extracted in between, the same rows get a new run id with a
    suffix no snapshot of the day has, so their export becomes the newest.
    """
    base = f"seed-{digest[:16]}"
    if not snapshots:
        return base
    newest = max(snapshots, key=lambda snapshot: snapshot[1])[0]
    if newest == base or newest.startswith(f"{base}-"):
        return newest
    taken = {run_id for run_id, _ in snapshots}
    if base not in taken:
        return base
    suffix = len(snapshots)
    while f"{base}-{suffix}" in taken:
        suffix += 1
    return f"{base}-{suffix}"


# log4j lines of Spark's task scheduler: "... INFO TaskSetManager: Finished task 0.0 in stage 4.0 (TID 3) ... (1/8)".
_TASK_LINE = re.compile(
    r"INFO TaskSetManager: (Starting|Finished) task \S+ in stage (\d+)\.\d+ .*?(?:\((\d+)/(\d+)\))?\s*$"
)


def spark_progress(log_tail: str) -> list[str]:
    """From the end of a driver log: the job's last logged step and Spark's last stage progress (each if found)."""
    step = stage = None
    for line in reversed(log_tail.splitlines()):
        if step is None and line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if isinstance(record, dict) and str(record.get("logger", "")).startswith("obt_job"):
                step = f"job step '{record.get('message', '')}'"
        if stage is None and (match := _TASK_LINE.search(line)):
            verb, number, done, total = match.groups()
            if verb == "Finished" and total:
                stage = f"Spark stage {number}: {done}/{total} tasks done"
            else:
                stage = f"Spark stage {number} running"
        if step is not None and stage is not None:
            break
    return [fact for fact in (step, stage) if fact is not None]


def ledger_detail(ledger: dict[str, Any]) -> str:
    if ledger["outcome"] != "loaded":
        return f"{ledger['outcome']}: {ledger.get('reason') or ''}"
    return f"+{ledger['rows_inserted'] or 0:,} ~{ledger['rows_updated'] or 0:,} -{ledger['rows_deleted'] or 0:,} rows"


@dataclass(frozen=True)
class TaggerModel:
    """A trained review tagger in the cache, ``<cache>/<model_version>/``, and its model card."""

    path: Path
    card: dict[str, Any]
    trained: bool  # False: found in the cache

    @property
    def version(self) -> str:
        return self.card["model_version"]

    @property
    def uri(self) -> str:
        """The versioned folder as ``OBT_TAGGER_MODEL_URI`` takes it: ``file://…/tagger/<model_version>/``.

        Not ``Path.as_uri()``: it percent-encodes (a space, ``=``), which Hadoop's paths would take literally.
        """
        return f"file://{self.path.absolute()}/"

    def describe(self) -> str:
        how = "trained" if self.trained else "cached"
        model = self.card["cross_validation"]["model"]["mean"]["accuracy"]
        rule = self.card["rule"]["all_rows"]["accuracy"]
        return f"model {self.version} ({how}): accuracy {model:.3f} cross-validated, rule 'good' {rule:.3f}"


def tagger_model(cache: Path, labels: LabelledReviews) -> TaggerModel:
    """The model the current training code makes of ``labels``: from ``cache`` when it holds one, else trained now.

    A new model is trained into a hidden folder of ``cache`` and renamed to its version once complete, so the cache
    never holds half a model under a version's name.
    """
    found = cached_tagger_model(cache, labels)
    if found is not None:
        return found
    from obt_tools.tagger.card import CARD_NAME

    cache.mkdir(parents=True, exist_ok=True)
    partial = cache / f".training-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        train_tagger(Path(labels.source), partial, cache / TAGGER_LOG)
        card = json.loads((partial / CARD_NAME).read_text())
        target = cache / card["model_version"]
        # Same version, yet no match in the cache: its card is missing or unreadable. Replace the folder.
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return TaggerModel(target, card, trained=True)


def cached_tagger_model(cache: Path, labels: LabelledReviews) -> TaggerModel | None:
    """The model in ``cache`` whose card names ``labels``' SHA-256, this training code and this Spark version."""
    import pyspark

    from obt_tools.tagger.card import CARD_NAME, code_sha256

    wanted = (labels.sha256, code_sha256(), pyspark.__version__)
    for card_path in sorted(cache.glob(f"*/{CARD_NAME}")):
        try:
            card = json.loads(card_path.read_text())
            made_from = (card["training_data"]["sha256"], card["training_code_sha256"], card["spark_version"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # not a card this code wrote; a training replaces it
        if made_from == wanted and card_path.parent.name == card["model_version"]:
            return TaggerModel(card_path.parent, card, trained=False)
    return None


def train_tagger(labels: Path, out: Path, log_path: Path) -> None:
    """``obt tagger train --labels labels --out out``, its output in ``log_path``; a failure is one line."""
    argv = [sys.executable, "-m", "obt_tools", "tagger", "train", "--labels", str(labels), "--out", str(out)]
    with log_path.open("w") as output:
        # subprocess.run kills the child on any exception here (Ctrl-C, SIGTERM as procs.Terminated).
        done = subprocess.run(argv, stdout=output, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        lines = [line for line in log_path.read_text().splitlines() if line.strip()]
        last = lines[-1] if lines else f"exit status {done.returncode}"
        raise UserError(f"training the review tagger failed: {last} (log {log_path})")


@dataclass
class DemoOptions:
    state_dir: Path
    data_dir: Path | None = None
    scale: float = 1.0
    seed: int = DEFAULT_SEED
    keep_running: bool = False
    ingest_date: date = field(default_factory=lambda: datetime.now(UTC).date())
    # Labelled reviews to train the review tagger on (once: ``tagger_model``); None: no tagging, the OBT's tagger
    # columns stay NULL, and the tagger's stage says ``no_tagger_reason``.
    tagger_labels: Path | None = None
    no_tagger_reason: str = "no labelled reviews given"


@dataclass
class DemoResult:
    state_dir: Path
    outcome: LoadOutcome
    stages: list[Stage]
    obt_rows: int
    insights: list[str]


def prepare_inputs(options: DemoOptions) -> tuple[InputFiles, LabelledReviews | None]:
    """The checked input files (generated first when no ``data_dir`` is given) and the tagger's labelled reviews
    (read and checked first, before any generating); one-line errors."""
    labels = read_labels(options.tagger_labels) if options.tagger_labels is not None else None
    if options.data_dir is not None:
        if not options.data_dir.is_dir():
            raise UserError(f"--data-dir {options.data_dir} is not a folder")
        return check_inputs(find_inputs(options.data_dir)), labels
    out = options.state_dir / "data" / f"generated-scale{options.scale:g}-seed{options.seed}"
    return check_inputs(generated_inputs(out, options.scale, options.seed)), labels


def run(options: DemoOptions, on_change: Callable[[DemoSession], None] | None = None) -> DemoResult:
    """Check the inputs, start the local cloud, feed it like production is fed, wait for the OBT, summarise."""
    with procs.stop_signals_interrupt():
        return _run(options, on_change)


def _run(options: DemoOptions, on_change: Callable[[DemoSession], None] | None) -> DemoResult:
    from obt.warehouse import open_warehouse
    from obt_tools.analytics import insights

    session = DemoSession(options.state_dir, on_change=on_change)
    with session.stage("prepare input files") as current:
        files, labels = prepare_inputs(options)
        current.detail = str(files.purchases.parent)
    with session.stage(TAGGER_STAGE) as current:
        if labels is None:
            current.detail = f"off ({options.no_tagger_reason}): predicted_positive, sentiment_score stay NULL"
        else:
            model = tagger_model(options.state_dir / TAGGER_FOLDER, labels)
            session.tagger_model_uri = model.uri
            current.detail = model.describe()
    try:
        session.start()
        session.seed_postgres(files.purchases)
        session.extract(options.ingest_date)
        for source, path in files.vendor().items():
            session.upload_vendor(source, path, options.ingest_date)
        build = session.expected_build()
        outcome = session.wait_for_load(build.build_id)
        if outcome.manifest["status"] != "succeeded":
            spark = next(s for s in reversed(session.stages) if s.name == SPARK_STAGE)
            spark.failed = True
            reason = outcome.manifest.get("reason") or "the manifest gives no reason"
            raise BuildFailed(build.build_id, reason, session.stages, outcome.manifest)
        warehouse = open_warehouse(session.settings)
        obt_table = f"{session.settings.obt_dataset}.{session.settings.obt_table}"
        obt_rows = int(warehouse.query(f"SELECT COUNT(*) AS n FROM {obt_table}")[0]["n"])
        insights.create_star_schema(warehouse, session.settings)
        headlines = insights.top_insights(insights.collect(warehouse, session.settings))
        return DemoResult(options.state_dir, outcome, session.stages, obt_rows, headlines)
    finally:
        if not options.keep_running:
            session.stop()
