"""Turn a Dataproc ``PySparkBatch`` into a local ``spark-submit`` run.

Split of work between this endpoint and the job (see ``docs/contracts.md``, "The local cloud"):

- **Inputs (this module).** Every ``gs://`` object named by ``mainPythonFileUri``, ``pythonFileUris``,
  ``fileUris``, ``jarFileUris``, ``archiveUris`` and ``args`` is downloaded through the storage emulator into
  the mirror ``STATE/dataproc/mirror/<obt_contract.layout.mirror_name(uri)>`` before the driver starts. A
  ``gs://`` argument that is a bucket root, ends in ``/``, or names no existing object is an output location:
  nothing is downloaded. Files that ``spark-submit`` itself must open (main file, py/jar/plain files, archives)
  are passed as local paths; the job's ``args`` are passed unchanged, still ``gs://``.
- **Pinned inputs.** An argument ``gs://b/name#G`` (a build input, ``docs/contracts.md``) is that generation and
  no other: it is downloaded with ``generation=G`` into a file of its own (``b/name.generations/G/…``), never
  the live object, so an object overwritten while the batch was queued or running cannot reach the driver. A
  generation the emulator no longer has fails the batch before the driver starts, with
  ``layout.input_gone``'s reason (the local buckets keep no old versions; GCP's raw bucket does). A
  generation's bytes never change, so a file already staged is not downloaded again; staging one generation
  deletes the object's other generations that no unfinished batch names (``prune_generations``), so the
  mirror holds one copy per object plus those in use.
- **Outputs (the job).** The driver gets ``--conf spark.obt.localGcsMirror=<mirror>``. Under that property
  the job reads ``gs://b/p`` from ``<mirror>/b/p``, writes its outputs there and uploads them through the
  storage emulator itself, before publishing its completion message. This endpoint never uploads anything,
  so a job's "upload, then publish" order is the job's own, exactly as on Dataproc.

The planning (:func:`plan_submit`) and the failure summary (:func:`summarize_failure`) are pure; only
:func:`stage_inputs`, :func:`start_driver`, :func:`stop_driver` and :func:`stop_orphan` touch the outside world.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from obt_contract.layout import LayoutError, input_gone, mirror_name, split_pinned_uri

MIRROR_PROPERTY = "spark.obt.localGcsMirror"
# Marks the driver's command line, so a restarted endpoint can find and stop an orphaned driver safely.
BATCH_ID_PROPERTY = "spark.obt.localBatchId"

# Dataproc Serverless sizing and platform properties: meaningless for one local JVM, and some would make
# spark-submit ask for far more memory than a shared 2-core machine has.
_DROPPED_PREFIXES = ("spark.dataproc.", "spark.dynamicAllocation.", "spark.executor.")
_DROPPED_EXACT = frozenset({"spark.driver.memory", "spark.driver.cores", "spark.driver.memoryOverhead"})
_LOCAL_DEFAULTS = {"spark.ui.enabled": "false"}


class BatchSpecError(ValueError):
    """The batch cannot run locally (unsupported kind, malformed URI); becomes INVALID_ARGUMENT."""


@dataclass(frozen=True)
class SubmitPlan:
    command: list[str]
    # (gs:// URI, local path) pairs to download before the driver starts.
    downloads: list[tuple[str, Path]] = field(default_factory=list)
    # gs:// URIs that name objects the job may create: their absence is not an error.
    optional_downloads: frozenset[str] = frozenset()
    dropped_properties: list[str] = field(default_factory=list)


def parse_gs_uri(uri: str) -> tuple[str, str]:
    """``gs://bucket/name`` -> (bucket, name); the name may be empty (bucket root)."""
    if not uri.startswith("gs://"):
        raise BatchSpecError(f"not a gs:// URI: {uri!r}")
    bucket, _, name = uri[len("gs://") :].partition("/")
    if not bucket:
        raise BatchSpecError(f"gs:// URI without a bucket: {uri!r}")
    return bucket, name


def pinned(uri: str) -> tuple[str, str, int] | None:
    """``(bucket, name, generation)`` of a pinned ``gs://b/name#G`` argument, ``None`` for any other."""
    try:
        return split_pinned_uri(uri)
    except LayoutError:
        return None


def mirror_path(mirror: Path, uri: str) -> Path:
    _, name = parse_gs_uri(uri)
    if not name or name.endswith("/"):
        raise BatchSpecError(f"{uri!r} names no object")
    target = (mirror / mirror_name(uri)).resolve()
    if not target.is_relative_to(mirror.resolve()):
        raise BatchSpecError(f"{uri!r} escapes the local mirror")
    return target


def _local_file(uri: str, mirror: Path, downloads: list[tuple[str, Path]]) -> str:
    """A file spark-submit opens itself: file:// -> path, gs:// -> mirror path (downloaded first)."""
    if uri.startswith("file://"):
        return uri[len("file://") :]
    if uri.startswith("gs://"):
        path = mirror_path(mirror, uri)
        downloads.append((uri, path))
        return str(path)
    raise BatchSpecError(f"unsupported URI {uri!r}: use gs:// or file://")


def _gs_uris_in_arg(arg: str) -> Iterable[str]:
    # Accept both "--flag gs://x" (a separate arg) and "--flag=gs://x".
    value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
    if value.startswith("gs://"):
        yield value


def _arg_downloads(args: Iterable[str], mirror: Path) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for arg in args:
        for uri in _gs_uris_in_arg(arg):
            _, name = parse_gs_uri(uri)
            if name and not name.endswith("/"):
                found.append((uri, mirror_path(mirror, uri)))
    return found


def pinned_files(batch: Mapping, mirror: Path) -> set[Path]:
    """The mirror files of a batch's pinned arguments (Batch JSON as stored): what its driver reads."""
    args = [str(a) for a in (batch.get("pysparkBatch") or {}).get("args", [])]
    return {path for uri, path in _arg_downloads(args, mirror) if pinned(uri)}


def spark_properties(properties: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Properties to pass as --conf, and the Dataproc-only ones dropped (sorted)."""
    kept = dict(_LOCAL_DEFAULTS)
    dropped = []
    for key, value in properties.items():
        if key in _DROPPED_EXACT or key.startswith(_DROPPED_PREFIXES):
            dropped.append(key)
        else:
            kept[key] = str(value)
    return kept, sorted(dropped)


def plan_submit(
    batch: Mapping,
    *,
    batch_id: str,
    mirror: Path,
    spark_submit: str,
    master: str = "local[*]",
    driver_memory: str = "1g",
) -> SubmitPlan:
    """The spark-submit command line and the downloads for one batch (Batch JSON as sent by the client)."""
    pyspark = batch.get("pysparkBatch")
    if not isinstance(pyspark, Mapping):
        kinds = sorted(k for k in batch if k.endswith("Batch")) or ["none"]
        raise BatchSpecError(f"only pysparkBatch runs locally, got {', '.join(kinds)}")
    main_uri = pyspark.get("mainPythonFileUri", "")
    if not main_uri:
        raise BatchSpecError("pysparkBatch.mainPythonFileUri is required")

    downloads: list[tuple[str, Path]] = []
    main_file = _local_file(main_uri, mirror, downloads)
    py_files = [_local_file(u, mirror, downloads) for u in pyspark.get("pythonFileUris", [])]
    jars = [_local_file(u, mirror, downloads) for u in pyspark.get("jarFileUris", [])]
    files = [_local_file(u, mirror, downloads) for u in pyspark.get("fileUris", [])]
    archives = [_local_file(u, mirror, downloads) for u in pyspark.get("archiveUris", [])]
    args = [str(a) for a in pyspark.get("args", [])]
    arg_downloads = _arg_downloads(args, mirror)

    properties = (batch.get("runtimeConfig") or {}).get("properties") or {}
    conf, dropped = spark_properties(properties)
    conf[MIRROR_PROPERTY] = str(mirror)
    conf[BATCH_ID_PROPERTY] = batch_id

    command = [spark_submit, "--master", master, "--driver-memory", driver_memory]
    for key, value in sorted(conf.items()):
        command += ["--conf", f"{key}={value}"]
    for flag, values in (("--py-files", py_files), ("--jars", jars), ("--files", files), ("--archives", archives)):
        if values:
            command += [flag, ",".join(values)]
    command += [main_file, *args]
    return SubmitPlan(
        command=command,
        downloads=downloads + arg_downloads,
        # An argument may name an object the job creates; a pinned one is an input that must exist.
        optional_downloads=frozenset(uri for uri, _ in arg_downloads if not pinned(uri)),
        dropped_properties=dropped,
    )


def find_spark_submit() -> str:
    """spark-submit of the pyspark installed next to this interpreter (the venv's)."""
    beside = Path(sys.executable).parent / "spark-submit"
    if beside.exists():
        return str(beside)
    from pyspark.find_spark_home import _find_spark_home

    return str(Path(_find_spark_home()) / "bin" / "spark-submit")


def driver_env(base: Mapping[str, str]) -> dict[str, str]:
    """The server's environment (emulator hosts included), pinned to loopback and this interpreter."""
    env = dict(base)
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    env.setdefault("PYSPARK_PYTHON", sys.executable)
    env.setdefault("PYSPARK_DRIVER_PYTHON", env["PYSPARK_PYTHON"])
    return env


def stage_inputs(plan: SubmitPlan, storage_client, log) -> list[str]:
    """Download the plan's gs:// objects into the mirror; returns the output locations skipped.

    A pinned input is downloaded at its generation, once (see the module docstring); anything else is downloaded
    again every time, since the object may have been replaced since the last batch.
    """
    from google.api_core.exceptions import NotFound

    skipped = []
    for uri, target in plan.downloads:
        version = pinned(uri)
        if version is not None and target.exists():
            log.info("pinned input already mirrored", uri=uri, path=str(target))
            continue
        bucket, name = (version[0], version[1]) if version else parse_gs_uri(uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        # Unique per download: concurrent batches may stage the same object.
        partial = target.with_name(f"{target.name}.{uuid.uuid4().hex}.part")
        try:
            blob = storage_client.bucket(bucket).blob(name, generation=version[2] if version else None)
            blob.download_to_filename(str(partial))
        except NotFound:
            partial.unlink(missing_ok=True)
            if uri in plan.optional_downloads:
                skipped.append(uri)
                continue
            raise FileNotFoundError(input_gone(uri) if version else f"{uri} does not exist") from None
        os.replace(partial, target)
        log.info("mirrored input", uri=uri, path=str(target), bytes=target.stat().st_size)
    return skipped


def prune_generations(plan: SubmitPlan, keep: Collection[Path], log) -> None:
    """Delete the mirror files of other generations of the plan's pinned inputs, except those in ``keep``.

    ``keep`` is every unfinished batch's ``pinned_files``: the caller computes it and prunes under one lock that
    batch creation also takes, so no batch can start reading a generation this removes.
    """
    for uri, target in plan.downloads:
        if pinned(uri) is None:
            continue
        for other in target.parent.parent.iterdir():  # b/name.generations/<each generation>/basename
            if other != target.parent and other / target.name not in keep:
                shutil.rmtree(other, ignore_errors=True)
                log.info("older mirrored generation removed", uri=uri, path=str(other))


def start_driver(plan: SubmitPlan, log_path: Path, env: Mapping[str, str]) -> subprocess.Popen:
    """Start spark-submit in its own process group (so the whole driver tree can be stopped)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        log_file.write(("$ " + subprocess.list2cmdline(plan.command) + "\n").encode())
        log_file.flush()
        return subprocess.Popen(
            plan.command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )


def stop_driver(proc: subprocess.Popen) -> None:
    """Stop spark-submit's whole process group (JVM and Python workers), politely first."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_orphan(pid: int | None, batch_id: str) -> bool:
    """Stop a driver left running by a crashed endpoint, only if its command line proves it is ours.

    Returns whether a driver was stopped. A recorded pid may since belong to an unrelated process, hence the
    :data:`BATCH_ID_PROPERTY` check.
    """
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if f"{BATCH_ID_PROPERTY}={batch_id}".encode() not in cmdline:
        return False
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return False
    return True


# The last line of a Python traceback ("ValueError: boom", "pyspark.errors...AnalysisException: ...").
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)[\w.]*(: .*)?$")
# log4j lines as Spark prints them: "26/11/23 23:07:14 INFO Component: text".
_LOG4J_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR)\b")
_MAX_MESSAGE = 1000


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def killed_by(exit_code: int) -> str | None:
    """Why a driver that a signal ended stopped, else ``None``.

    Popen reports a killed spark-submit (it execs the JVM) as ``-N``. The JVM reports a killed child (the Python
    driver) as ``128 + N``, as shells do, and exits 143 itself on SIGTERM.
    """
    if exit_code < 0:
        return f"Driver killed by signal {-exit_code} ({_signal_name(-exit_code)})"
    if 128 < exit_code <= 128 + 64:
        signum = exit_code - 128
        killed = f"signal {signum} ({_signal_name(signum)})"
        return f"Driver exited with code {exit_code}: a driver process was killed by {killed}"
    return None


def summarize_failure(log_text: str, exit_code: int) -> str:
    """A one-paragraph state message from the driver log: the raised exception, else the last errors.

    A driver a signal ended is reported as that, whatever its log says: the log then stops mid-output, and its
    last lines (often a fragment of a query plan) say nothing about why it ended.
    """
    killed = killed_by(exit_code)
    if killed is not None:
        return killed
    lines = [line.rstrip() for line in log_text.splitlines() if line.strip()]
    exceptions = [line for line in lines if _EXCEPTION_LINE.match(line)]
    if exceptions:
        detail = exceptions[-1]
    else:
        errors = [line for line in lines if " ERROR " in line or line.startswith(("Error", "error"))]
        tail = errors[-3:] or [line for line in lines if not _LOG4J_LINE.match(line)][-3:] or lines[-3:]
        detail = " | ".join(tail) or "no output"
    message = f"Driver exited with code {exit_code}: {detail}"
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def read_tail(path: Path, max_bytes: int = 256 * 1024) -> str:
    try:
        with open(path, "rb") as handle:
            handle.seek(max(0, path.stat().st_size - max_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
