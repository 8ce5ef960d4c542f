"""Process lifecycle for the local cloud: detached services, pid files, ports, readiness, clean stops.

Every service runs in its own session (process group), so stopping it kills everything it spawned
(gunicorn workers, the JVM behind a shell wrapper, postgres behind ``runuser``). Each start writes
``STATE/run/NAME.json`` (pid, argv, port) *before* waiting for readiness, so a crash at any point leaves
enough behind for the next ``up`` to clean. Logs go to ``STATE/logs/NAME.log``. Whoever starts or uses the
local cloud in the foreground wraps that in :func:`stop_signals_interrupt`, so SIGTERM and SIGHUP clean up as
Ctrl-C does instead of ending the process with every service still running.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from obt.errors import UserError
from obt.log import get_logger

log = get_logger(__name__)

HOST = "127.0.0.1"
# Set in every service's environment (and so inherited by everything it spawns, e.g. Spark drivers), so a
# stop can find and end stragglers that left the service's process group.
MARKER = "OBT_LOCAL_STACK"


# The signals a supervisor (``timeout``, systemd, a closed terminal, CI cancelling a job) sends to end a run.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP while the local cloud is starting or in use.

    A ``KeyboardInterrupt`` on purpose: every ``finally`` and ``except BaseException`` that cleans up after
    Ctrl-C (stopping the local cloud) runs for these signals too, and ``except Exception`` cannot swallow it.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"stopped by {signal.Signals(signum).name}")


_terminating = False


def _raise_terminated(signum: int, _frame: object) -> None:
    global _terminating
    # Only the first signal interrupts; later ones would cut short the cleanup the first one started.
    if not _terminating:
        _terminating = True
        raise Terminated(signum)


@contextlib.contextmanager
def stop_signals_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread, as Ctrl-C raises
    ``KeyboardInterrupt``; by default they would end the process at once and orphan every service.

    Nested blocks keep the outer one's handler (so a second signal during the outer cleanup is still ignored);
    outside the main thread, where Python cannot install handlers, it changes nothing. A Python function, not
    ``SIG_IGN``, ignores the later signals: ``SIG_IGN`` would be inherited by every process started meanwhile.
    """
    global _terminating
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is (
        _raise_terminated
    ):
        yield
        return
    previous = {sig: signal.signal(sig, _raise_terminated) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _terminating = False


class ServiceError(UserError):
    """A local service could not be started or stopped."""


class PortClash(ServiceError):
    """Another process took the service's automatically chosen port before the service could bind it."""

    def __init__(self, message: str, service: Service | None = None) -> None:
        super().__init__(message)
        self.service = service


@dataclass
class Service:
    """A running local service; ``url`` is what a client connects to."""

    name: str
    pid: int
    port: int
    url: str
    log_path: Path
    state_dir: Path
    stop_signal: int = signal.SIGTERM

    def to_json(self) -> dict[str, object]:
        return {"pid": self.pid, "port": self.port, "url": self.url, "log": str(self.log_path)}


def free_port(host: str = HOST) -> int:
    """A port that was free a moment ago (the OS picks it; races are retried by callers' readiness waits)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def choose_port(name: str, requested: int | None) -> int:
    """The requested port if free (one-line error if not), else a free one."""
    if requested:
        if port_in_use(requested):
            raise ServiceError(f"port {requested} for {name} is already in use on {HOST}; pick another or omit it")
        return requested
    return free_port()


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still "exists" for kill(0); treat it as dead.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is still running (zombies excluded)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def run_dir(state_dir: Path) -> Path:
    return state_dir / "run"


def log_dir(state_dir: Path) -> Path:
    return state_dir / "logs"


def ensure_state_dir(state_dir: Path) -> Path:
    """Create the state folder and prove it is writable (one-line error otherwise)."""
    state_dir = state_dir.absolute()
    try:
        for folder in (state_dir, run_dir(state_dir), log_dir(state_dir)):
            folder.mkdir(parents=True, exist_ok=True)
        probe = state_dir / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise ServiceError(f"state folder {state_dir} is not writable: {exc.strerror or exc}") from exc
    return state_dir


def start(
    name: str,
    argv: Sequence[str],
    state_dir: Path,
    *,
    port: int,
    url: str,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    stop_signal: int = signal.SIGTERM,
    die_with_parent: bool = False,
) -> Service:
    """Start ``argv`` detached in its own session, logging to ``STATE/logs/NAME.log``.

    ``die_with_parent`` (test fixtures) makes the kernel send SIGTERM to the service when this process dies
    without tearing down, e.g. a test run killed on timeout; ``obt local up`` services outlive their starter.
    """
    log_path = log_dir(state_dir) / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ if env is None else env)
    full_env[MARKER] = str(state_dir.absolute())
    with open(log_path, "ab") as log_file:
        try:
            proc = subprocess.Popen(
                _with_parent_death_signal(argv) if die_with_parent else list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=full_env,
                cwd=str(cwd) if cwd else None,
                start_new_session=True,
            )
        except OSError as exc:
            raise ServiceError(f"cannot start {name} ({argv[0]}): {exc.strerror or exc}") from exc
    service = Service(name, proc.pid, port, url, log_path, state_dir, stop_signal)
    record = {**service.to_json(), "argv": list(argv), "stop_signal": int(stop_signal)}
    (run_dir(state_dir) / f"{name}.json").write_text(json.dumps(record))
    # Keep a reference so the child is reaped (no zombie) when it exits while we still run.
    _CHILDREN[proc.pid] = proc
    log.info("service started", service=name, pid=proc.pid, port=port, url=url, log=str(log_path))
    return service


_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _with_parent_death_signal(argv: Sequence[str]) -> list[str]:
    # setpriv sets PR_SET_PDEATHSIG and execs, so the service itself carries it (a preexec_fn would be
    # unsafe here: the caller runs gRPC threads).
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "TERM", "--", *argv] if setpriv else list(argv)


def _reap(pid: int) -> None:
    proc = _CHILDREN.get(pid)
    if proc is not None:
        proc.poll()


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def wait_until(service: Service, check: Callable[[], bool], timeout: float = 60.0, what: str = "ready") -> None:
    """Poll ``check`` until true; fail fast (with the log tail) if the process dies."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        _reap(service.pid)
        if not pid_alive(service.pid) and not group_alive(service.pid):
            last = log_tail(service.log_path, 1).strip()[:300] or "no output"
            message = f"{service.name} exited before becoming {what} ({last}); see {service.log_path}"
            if service.port and tcp_open(service.port):
                raise PortClash(message, service)
            raise ServiceError(message)
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise ServiceError(f"{service.name} not {what} after {timeout:.0f}s; see {service.log_path}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def tcp_open(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def http_ok(url: str) -> bool:
    """True on any HTTP answer below 500 (the server is up and routing)."""
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status < 500
    except urllib.error.HTTPError as exc:
        return exc.code < 500


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 0A = LISTEN
                    inodes.add(fields[9])
    return inodes


def owns_port(service: Service) -> bool:
    """Whether a process of the service's group listens on its port (not merely *someone*)."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(service.port)}
    if not sockets:
        return False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError):
            if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2]) != service.pid:
                continue
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in sockets:
                        return True
    return False


def wait_for_port(service: Service, timeout: float = 60.0, check: Callable[[], bool] | None = None) -> None:
    """Until the service itself listens (and ``check`` passes); a port another process holds is ``PortClash``."""

    def ready() -> bool:
        return owns_port(service) and (check is None or check())

    try:
        wait_until(service, ready, timeout, f"ready on port {service.port}")
    except PortClash:
        raise
    except ServiceError as exc:
        if tcp_open(service.port) and not owns_port(service):
            raise PortClash(str(exc), service) from exc
        raise


def with_port(name: str, requested: int | None, launch: Callable[[int], Service], attempts: int = 3) -> Service:
    """``launch(port)`` on the requested port, or on a free one, picking another if it was taken meanwhile."""
    attempt = 1
    while True:
        port = choose_port(name, requested)
        try:
            return launch(port)
        except PortClash as clash:
            if clash.service is not None:
                stop(clash.service)
            if requested or attempt >= attempts:
                raise
            log.warning("port taken before the service bound it, retrying", service=name, port=port)
            attempt += 1


def stop_group(pid: int, sig: int = signal.SIGTERM, timeout: float = 10.0, name: str = "") -> bool:
    """Signal the whole process group of ``pid``, then SIGKILL what is left. True if anything was running."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        pgid = pid
    if pgid != pid and pgid == os.getpgid(0):
        # Never signal our own group: the service was not started detached.
        pgid = pid
    if not group_alive(pgid) and not pid_alive(pid):
        _reap(pid)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _reap(pid)
        if not group_alive(pgid):
            break
        time.sleep(0.05)
    else:
        log.warning("service ignored stop signal, killing", service=name, pid=pid, signal=int(sig))
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)
        kill_deadline = time.monotonic() + 5
        while group_alive(pgid) and time.monotonic() < kill_deadline:
            _reap(pid)
            time.sleep(0.05)
    _reap(pid)
    _CHILDREN.pop(pid, None)
    if group_alive(pgid):
        raise ServiceError(f"could not stop {name or pid} (process group {pgid} still alive)")
    log.info("service stopped", service=name, pid=pid)
    return True


def stop(service: Service, timeout: float = 10.0) -> bool:
    stopped = stop_group(service.pid, service.stop_signal, timeout, service.name)
    (run_dir(service.state_dir) / f"{service.name}.json").unlink(missing_ok=True)
    return stopped


def recorded(state_dir: Path) -> dict[str, dict[str, object]]:
    """Pid records left in ``STATE/run`` (by this run or a crashed one)."""
    records: dict[str, dict[str, object]] = {}
    folder = run_dir(state_dir)
    if not folder.is_dir():
        return records
    for path in sorted(folder.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            records[path.stem] = json.loads(path.read_text())
    return records


def record_is_ours(record: Mapping[str, object]) -> bool:
    """The pid still runs the command we started (guards against a recycled pid)."""
    pid = int(record.get("pid", 0) or 0)
    argv = [str(a) for a in record.get("argv", []) or []]  # type: ignore[union-attr]
    if not pid_alive(pid) or not argv:
        return False
    cmdline = _cmdline(pid)
    # Wrappers (runuser, shell scripts) exec or re-exec: match any recorded argument beyond argv[0].
    return bool(cmdline) and (cmdline[: len(argv)] == argv or any(a in cmdline for a in argv[1:] if len(a) > 3))


def clean_stale(state_dir: Path, only: Sequence[str] | None = None) -> list[str]:
    """Stop (all at once) the recorded processes of this or a previous run and forget their records.

    Returns the names that were still running."""
    records = {n: r for n, r in recorded(state_dir).items() if only is None or n in only}

    def stop_one(item: tuple[str, dict[str, object]]) -> str | None:
        name, record = item
        try:
            if record_is_ours(record):
                sig = int(record.get("stop_signal", signal.SIGTERM) or signal.SIGTERM)  # type: ignore[call-overload]
                if stop_group(int(record["pid"]), sig, name=name):  # type: ignore[call-overload]
                    return name
            return None
        finally:
            (run_dir(state_dir) / f"{name}.json").unlink(missing_ok=True)

    with ThreadPoolExecutor(max_workers=max(len(records), 1)) as pool:
        cleaned = [name for name in pool.map(stop_one, records.items()) if name]
    return cleaned


def marked_processes(state_dir: Path) -> list[int]:
    """Pids (other than this process) whose environment carries this state folder's marker."""
    needle = f"{MARKER}={state_dir.absolute()}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        with contextlib.suppress(OSError):
            if needle in (entry / "environ").read_bytes().split(b"\0") and pid_alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def sweep(state_dir: Path, timeout: float = 5.0) -> list[int]:
    """End every process still marked with this state folder (TERM, then KILL). Returns the pids found."""
    pids = marked_processes(state_dir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        for pid in pids:
            _reap(pid)
        time.sleep(0.05)
    for pid in pids:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    if pids:
        log.warning("ended stray local-cloud processes", pids=pids, state_dir=str(state_dir))
    return pids
