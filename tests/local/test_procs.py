"""Process lifecycle: groups are stopped whole, stale records cleaned, recycled pids left alone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from obt_tools.local import procs

# A service that spawns a grandchild, as gunicorn, runuser or the emulator's shell wrapper do.
FAMILY = ["sh", "-c", "sleep 300 & sleep 301; wait"]


def _children_of_group(pgid: int) -> int:
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                count += 1
    return count


def _wait(predicate, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def state(tmp_path) -> Path:
    return procs.ensure_state_dir(tmp_path / "state")


def test_stop_ends_the_whole_process_group(state):
    service = procs.start("family", FAMILY, state, port=0, url="")
    assert _wait(lambda: _children_of_group(service.pid) >= 3)
    assert procs.stop(service)
    assert _children_of_group(service.pid) == 0
    assert not (state / "run" / "family.json").exists()


def test_clean_stale_stops_what_a_crashed_run_left(state):
    service = procs.start("leftover", FAMILY, state, port=0, url="")
    record = json.loads((state / "run" / "leftover.json").read_text())
    assert record["pid"] == service.pid and record["argv"] == FAMILY
    assert procs.clean_stale(state) == ["leftover"]
    assert not procs.group_alive(service.pid)
    assert procs.recorded(state) == {}


def test_a_recycled_pid_is_not_killed(state):
    stranger = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        (state / "run" / "old.json").write_text(json.dumps({"pid": stranger.pid, "argv": ["fake-gcs-server", "-x"]}))
        assert procs.clean_stale(state) == []
        assert procs.pid_alive(stranger.pid)
    finally:
        stranger.kill()
        stranger.wait()


def test_sweep_finds_processes_that_left_the_group(state):
    service = procs.start("escaper", ["setsid", "sleep", "300"], state, port=0, url="")
    assert _wait(lambda: bool(procs.marked_processes(state)))
    procs.stop(service)
    escaped = procs.marked_processes(state)
    assert escaped, "setsid moved sleep out of the service's group"
    assert procs.sweep(state) == escaped
    assert not procs.marked_processes(state)


def test_services_started_for_tests_die_with_their_parent(state):
    # The signal reaches the service process itself (which must stop its own children, as gunicorn,
    # runuser and the JVM do), so a single process stands in for it here.
    script = (
        "import os, sys; from pathlib import Path; from obt_tools.local import procs;"
        f"procs.start('orphan', ['sleep', '300'], Path({str(state)!r}), port=0, url='', die_with_parent=True);"
        "print(procs.marked_processes(Path(" + repr(str(state)) + ")), flush=True); os._exit(1)"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert "[" in result.stdout
    assert _wait(lambda: not procs.marked_processes(state)), procs.marked_processes(state)


def test_a_fixed_port_in_use_is_refused():
    with socket.socket() as sock:
        sock.bind((procs.HOST, 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert procs.port_in_use(port)
        with pytest.raises(procs.ServiceError, match=f"port {port}"):
            procs.choose_port("gcs", port)
    assert procs.choose_port("gcs", None) > 0


def test_a_service_dying_early_is_a_one_line_error(state):
    service = procs.start("broken", ["sh", "-c", "echo cannot bind; exit 3"], state, port=0, url="")
    with pytest.raises(procs.ServiceError) as failure:
        procs.wait_for_port(service, timeout=30)
    assert "\n" not in str(failure.value) and "cannot bind" in str(failure.value)


def test_unwritable_state_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(procs.ServiceError, match="not writable"):
        procs.ensure_state_dir(blocker / "state")


def test_marker_is_in_the_service_environment(state):
    service = procs.start("env", ["sleep", "300"], state, port=0, url="")
    try:
        environ = Path(f"/proc/{service.pid}/environ").read_bytes().split(b"\0")
        assert f"{procs.MARKER}={state}".encode() in environ
    finally:
        procs.stop(service)
    assert os.path.exists(service.log_path)


def test_a_port_taken_meanwhile_is_retried_on_another(state):
    with socket.socket() as holder:
        holder.bind((procs.HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]
        tried: list[int] = []

        def launch(port: int) -> procs.Service:
            port = taken if not tried else port  # the first "free" port was grabbed by someone else
            tried.append(port)
            argv = [sys.executable, "-m", "http.server", "--bind", procs.HOST, str(port)]
            service = procs.start("web", argv, state, port=port, url=f"http://{procs.HOST}:{port}")
            procs.wait_for_port(service, timeout=30)
            return service

        service = procs.with_port("web", None, launch)
        try:
            assert tried[0] == taken and service.port == tried[1] != taken
            assert procs.owns_port(service)
        finally:
            procs.stop(service)
    assert len(procs.marked_processes(state)) == 0


def test_a_fixed_port_taken_meanwhile_is_an_error(state):
    with socket.socket() as holder:
        holder.bind((procs.HOST, 0))
        holder.listen()
        taken = holder.getsockname()[1]

        def launch(port: int) -> procs.Service:
            argv = [sys.executable, "-m", "http.server", "--bind", procs.HOST, str(taken)]
            service = procs.start("web", argv, state, port=taken, url="")
            procs.wait_for_port(service, timeout=30)
            return service

        with pytest.raises(procs.PortClash):
            procs.with_port("web", None, launch, attempts=2)
    assert not procs.marked_processes(state)


# Run in a child: a broken handler would end the test process itself.
SIGNALLED = """
import os, signal, sys, time
from obt_tools.local import procs

sig = getattr(signal, sys.argv[1])
cleaned = False
try:
    with procs.stop_signals_interrupt():
        try:
            with procs.stop_signals_interrupt():  # nested, as demo.run around stack.up
                os.kill(os.getpid(), sig)
                time.sleep(10)
        finally:
            os.kill(os.getpid(), sig)  # a second signal must not cut short the cleanup the first started
            time.sleep(0.2)
            cleaned = True
except procs.Terminated as exc:
    print(exc.signum == sig, exc, cleaned, signal.getsignal(sig) == signal.SIG_DFL, flush=True)
os.kill(os.getpid(), sig)  # outside the block the signal ends the process as before
time.sleep(10)
print("survived", flush=True)
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_stop_signals_unwind_like_ctrl_c_once_and_only_inside_the_block(name):
    result = subprocess.run(
        [sys.executable, "-c", SIGNALLED, name],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parents[2],
    )
    assert result.stdout.splitlines() == [f"True stopped by {name} True True"], result.stderr[-2000:]
    assert result.returncode == -getattr(signal, name)
