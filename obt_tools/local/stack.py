"""The local cloud as one unit: ``up`` / ``down`` / ``status`` and the environment to reach it.

``STATE/stack.json`` (``{"services": {name: {"pid", "port", "url"}}, "env": {VAR: value}}``) is rewritten
after every service that comes up, and every process is recorded in ``STATE/run`` as it starts, so a partial
or crashed run can always be found and cleaned. Start order follows dependencies: PostgreSQL and Pub/Sub
(topics and subscriptions) side by side, fake-gcs-server (publishing to Pub/Sub), the local Dataproc
endpoint, the functions whose source exists (together), and the Eventarc stand-in last.

The environment every service gets (and ``stack.json`` records) carries ``OBT_TAGGER_MODEL_URI`` from the
settings the cloud starts with, empty when there is none, so that the functions and every command reading
``stack.json`` plan with the same review tagger model, and so compute the same build ids (which hash it).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from obt.config import Settings
from obt.errors import UserError
from obt.log import get_logger
from obt_tools.local import functions, gcs, procs, pubsub
from obt_tools.local import postgres as pg

log = get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_FILE = "stack.json"
DATAPROC_PACKAGE = Path(__file__).resolve().parent / "dataproc" / "__main__.py"

POSTGRES, PUBSUB, GCS, DATAPROC, EVENTARC = "postgres", "pubsub", "gcs", "dataproc", "eventarc"
FIXED_PORT_SERVICES = (POSTGRES, PUBSUB, GCS, DATAPROC, *(f.name for f in functions.FUNCTIONS))
# The review tagger's model (obt.config.Settings.tagger_model_uri); "" = no tagging.
TAGGER_MODEL_ENV = "OBT_TAGGER_MODEL_URI"


@dataclass(frozen=True)
class Row:
    name: str
    pid: int
    port: int
    url: str
    alive: bool


def stack_path(state_dir: Path) -> Path:
    return Path(state_dir) / STACK_FILE


def read_stack(state_dir: Path) -> dict | None:
    path = stack_path(state_dir)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise UserError(f"{path} is unreadable ({exc}); run `obt local down` to reset") from exc


def _write_stack(state_dir: Path, services: Mapping[str, procs.Service], env: Mapping[str, str]) -> None:
    data = {
        "services": {name: {"pid": s.pid, "port": s.port, "url": s.url} for name, s in services.items()},
        "env": dict(env),
    }
    path = stack_path(state_dir)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def stack_env(state_dir: Path | str) -> dict[str, str]:
    """Every variable a process needs to talk to the running local cloud (read from ``STATE/stack.json``)."""
    stack = read_stack(Path(state_dir))
    if stack is None:
        raise UserError(f"the local cloud is not running (no {stack_path(Path(state_dir))}); run `obt local up`")
    return dict(stack["env"])


def parse_ports(specs: list[str] | None) -> dict[str, int]:
    """``["gcs=4443", …]`` -> ``{"gcs": 4443}`` (one-line errors for anything else)."""
    ports: dict[str, int] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        if not sep or name not in FIXED_PORT_SERVICES:
            raise UserError(f"--port takes NAME=PORT with NAME one of {', '.join(FIXED_PORT_SERVICES)}; got {spec!r}")
        if not value.isdigit() or not 0 < int(value) < 65536:
            raise UserError(f"--port {name}: {value!r} is not a port number (1-65535)")
        ports[name] = int(value)
    return ports


def check_prerequisites(ports: Mapping[str, int]) -> None:
    """Fail with one line before anything starts: missing Java/emulator/PostgreSQL, fixed ports taken."""
    pubsub.java_binary()
    pubsub.emulator_binary()
    pg.binary("initdb")
    pg.binary("postgres")
    gcs.server_binary()
    for name, port in ports.items():
        procs.choose_port(name, port)


def _base_env(settings: Settings, state_dir: Path) -> dict[str, str]:
    return {
        "OBT_ENV": "local",
        "OBT_PROJECT": settings.project,
        "OBT_REGION": settings.region,
        "OBT_RAW_BUCKET": settings.raw_bucket,
        "OBT_CURATED_BUCKET": settings.curated_bucket,
        "OBT_BUILD_TOPIC": settings.build_topic,
        "OBT_STATE_DIR": str(state_dir),
        "OBT_WAREHOUSE": "duckdb",
        "OBT_WAREHOUSE_PATH": str(state_dir / "warehouse.duckdb"),
        "OBT_JOB_MAIN_URI": (REPO_ROOT / "spark_jobs" / "build_obt.py").as_uri(),
        TAGGER_MODEL_ENV: settings.tagger_model_uri,
        "SPARK_LOCAL_IP": procs.HOST,
    }


def running(state_dir: Path) -> bool:
    stack = read_stack(state_dir)
    return bool(stack) and all(procs.pid_alive(int(s["pid"])) for s in stack["services"].values())


def up(
    state_dir: Path,
    ports: Mapping[str, int] | None = None,
    duplicates: int = 1,
    settings: Settings | None = None,
    die_with_parent: bool = False,
) -> dict:
    """Start the local cloud (cleaning a crashed previous run first); returns the stack record.

    ``die_with_parent`` (test fixtures) ends every service when the calling process dies without ``down``.
    SIGTERM or SIGHUP while starting stops what did start, as Ctrl-C does (``procs.Terminated``).
    """
    with procs.stop_signals_interrupt():
        return _up(Path(state_dir), dict(ports or {}), duplicates, settings, die_with_parent)


def _up(
    state_dir: Path, ports: dict[str, int], duplicates: int, settings: Settings | None, die_with_parent: bool
) -> dict:
    state_dir = procs.ensure_state_dir(state_dir)
    if running(state_dir):
        log.info("local cloud already running", state_dir=str(state_dir))
        return read_stack(state_dir) or {}
    if duplicates < 1:
        raise UserError(f"--duplicates must be at least 1, got {duplicates}")
    _clean(state_dir, reason="leftovers of a previous run")
    check_prerequisites(ports)
    settings = settings or Settings.from_env({k: v for k, v in os.environ.items() if k != "OBT_ENV"})
    env = _base_env(settings, state_dir)
    services: dict[str, procs.Service] = {}

    def started(service: procs.Service, **more_env: str) -> procs.Service:
        services[service.name] = service
        env.update(more_env)
        _write_stack(state_dir, services, env)
        return service

    orphan_safe = {"die_with_parent": die_with_parent}
    try:
        # Started one after the other from this thread on purpose: PR_SET_PDEATHSIG (die_with_parent) fires
        # when the *thread* that forked a service exits, so a worker thread would take its services with it.
        pg_service, info = pg.start_postgres(state_dir, ports.get(POSTGRES), **orphan_safe)
        ps = pubsub.start_pubsub(state_dir, settings.project, ports.get(PUBSUB), **orphan_safe)
        started(pg_service, **info.env())
        started(ps, PUBSUB_EMULATOR_HOST=ps.url)
        storage = gcs.start_gcs(
            state_dir,
            settings.project,
            (settings.raw_bucket, settings.curated_bucket),
            port=ports.get(GCS),
            pubsub_host=ps.url,
            notify_bucket=settings.raw_bucket,
            notify_topic=pubsub.RAW_NOTIFICATIONS_TOPIC,
            **orphan_safe,
        )
        started(storage, STORAGE_EMULATOR_HOST=storage.url)
        if DATAPROC_PACKAGE.exists():
            dataproc = started(_start_dataproc(state_dir, env, ports.get(DATAPROC), die_with_parent))
            env["OBT_DATAPROC_ENDPOINT"] = dataproc.url
        else:
            log.warning("local dataproc endpoint not started", reason=f"{DATAPROC_PACKAGE} does not exist")
        # The functions spend their start importing: launch them together, then wait for each.
        specs = functions.available(REPO_ROOT)
        for spec in specs:
            port = ports.get(spec.name)
            started(functions.start_spec(state_dir, spec, REPO_ROOT, env, port, wait=False, **orphan_safe))
        for spec in specs:
            try:
                procs.wait_for_port(services[spec.name], timeout=120)
            except procs.PortClash:
                if spec.name in ports:
                    raise
                procs.stop(services[spec.name])
                started(functions.start_spec(state_dir, spec, REPO_ROOT, env, None, wait=True, **orphan_safe))
        _start_eventarc(state_dir, env, services, settings, duplicates, started, die_with_parent)
    except BaseException:
        log.error("local cloud failed to start; stopping what did start", started=list(services))
        _clean(state_dir, reason="failed start")
        raise
    log.info("local cloud up", state_dir=str(state_dir), services=list(services))
    return read_stack(state_dir) or {}


def _start_dataproc(state_dir: Path, env: Mapping[str, str], port: int | None, die_with_parent: bool) -> procs.Service:
    def launch(chosen: int) -> procs.Service:
        argv = [
            sys.executable,
            "-m",
            "obt_tools.local.dataproc",
            "--host",
            procs.HOST,
            "--port",
            str(chosen),
            "--state-dir",
            str(state_dir),
        ]
        url = f"http://{procs.HOST}:{chosen}"
        service = procs.start(
            DATAPROC,
            argv,
            state_dir,
            port=chosen,
            url=url,
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            die_with_parent=die_with_parent,
        )
        procs.wait_for_port(service, timeout=120)
        return service

    return procs.with_port(DATAPROC, port, launch)


def _start_eventarc(
    state_dir, env, services, settings: Settings, duplicates: int, started, die_with_parent: bool
) -> None:
    routes: list[str] = []
    if "on_raw_landed" in services:
        routes += ["--on-raw-landed-url", services["on_raw_landed"].url]
    if "load_obt" in services:
        routes += ["--load-obt-url", services["load_obt"].url]
    if not routes:
        log.warning("eventarc stand-in not started", reason="neither on_raw_landed nor load_obt exists")
        return
    argv = [
        sys.executable,
        "-m",
        "obt_tools.local.eventarc",
        "--project",
        settings.project,
        "--raw-bucket",
        settings.raw_bucket,
        "--build-topic",
        settings.build_topic,
        "--duplicates",
        str(duplicates),
        *routes,
    ]
    service = procs.start(
        EVENTARC,
        argv,
        state_dir,
        port=0,
        url="",
        env={**os.environ, **env},
        cwd=REPO_ROOT,
        die_with_parent=die_with_parent,
    )
    procs.wait_until(service, lambda: "eventarc stand-in running" in service.log_path.read_text(), 60, "running")
    started(service)


def _clean(state_dir: Path, reason: str) -> list[str]:
    """Stop every recorded service (``STATE/run``, written at each start), then marked stragglers."""
    # The Eventarc stand-in goes first so it stops delivering to functions that are going away.
    stopped = procs.clean_stale(state_dir, only=[EVENTARC])
    stopped += procs.clean_stale(state_dir)
    strays = procs.sweep(state_dir)
    stack_path(state_dir).unlink(missing_ok=True)
    if stopped or strays:
        log.info("local cloud stopped", reason=reason, services=stopped, strays=strays)
    return stopped


def down(state_dir: Path) -> list[str]:
    """Stop everything; verified: no process of this state folder survives."""
    state_dir = Path(state_dir).absolute()
    if not state_dir.exists():
        return []
    stopped = _clean(state_dir, reason="down")
    left = procs.marked_processes(state_dir)
    if left:
        raise UserError(f"processes still running after down: {left}")
    pg.remove_fallback(state_dir)
    return stopped


def status(state_dir: Path) -> list[Row]:
    stack = read_stack(Path(state_dir))
    if not stack:
        return []
    return [
        Row(name, int(s["pid"]), int(s["port"]), s["url"], procs.pid_alive(int(s["pid"])))
        for name, s in stack["services"].items()
    ]


def format_status(rows: list[Row]) -> str:
    header = ("SERVICE", "PID", "PORT", "URL", "ALIVE")
    table = [header]
    table += [(r.name, str(r.pid), str(r.port or "-"), r.url or "-", "yes" if r.alive else "NO") for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip() for line in table)
