"""``obt_tools.cli.reach``: every command reaches the local cloud of its ``--state-dir`` the same way."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

from obt.errors import UserError
from obt_tools.cli import reach

DEAD_PID = 2**22 + 1  # above the kernel's pid_max: never alive


def _stack(folder: Path, pid: int, **env: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    services = {"gcs": {"pid": pid, "port": 4443, "url": "http://127.0.0.1:4443"}}
    record = {"services": services, "env": {"OBT_ENV": "local", "OBT_STATE_DIR": str(folder), **env}}
    (folder / "stack.json").write_text(json.dumps(record))
    return folder


def _args(state_dir: Path | None = None) -> argparse.Namespace:
    return argparse.Namespace(state_dir=state_dir)


def test_the_running_cloud_of_the_state_folder_beats_a_stale_environment(own_environ, tmp_path: Path) -> None:
    own_environ.update(STORAGE_EMULATOR_HOST="http://127.0.0.1:1", OBT_PG_PORT="5432")  # an `eval` of an older run
    state = _stack(tmp_path / "cloud", os.getpid(), STORAGE_EMULATOR_HOST="http://127.0.0.1:4443", OBT_PG_PORT="6543")
    reached = reach.reach(_args(state), reach.STORAGE, reach.POSTGRES)
    assert reached.running and reached.state_dir == state
    assert reached.settings.pg_port == 6543
    assert os.environ["STORAGE_EMULATOR_HOST"] == "http://127.0.0.1:4443"  # what the storage client reads
    assert reached.settings.warehouse_path == state / "warehouse.duckdb"


def test_state_dir_defaults_to_obt_state_dir_then_dot_obt(own_environ, tmp_path: Path) -> None:
    assert reach.state_dir(_args()) == tmp_path / "state"
    del own_environ["OBT_STATE_DIR"]
    assert reach.state_dir(_args()) == Path(".obt")
    assert reach.state_dir(_args(tmp_path / "x")) == tmp_path / "x"


def test_no_cloud_and_nothing_local_is_one_line_naming_the_folder(own_environ, tmp_path: Path) -> None:
    with pytest.raises(UserError) as error:
        reach.reach(_args(tmp_path / "none"), reach.STORAGE, reach.PUBSUB)
    text = str(error.value)
    assert text.startswith(f"no local cloud is running under {tmp_path / 'none'} (no {tmp_path / 'none'}/stack.json)")
    assert "local storage / pubsub (STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST)" in text
    assert f"`obt local up --state-dir {tmp_path / 'none'}`" in text and "set OBT_ENV=gcp" in text


def test_a_cloud_running_next_door_is_named(own_environ, tmp_path: Path) -> None:
    _stack(tmp_path / ".obt-real", os.getpid())
    with pytest.raises(UserError, match=r"pass --state-dir \.obt-real \(running there\)"):
        reach.reach(_args(), reach.PUBSUB)


def test_a_stale_stack_is_not_running(own_environ, tmp_path: Path) -> None:
    state = _stack(tmp_path / "crashed", DEAD_PID, PUBSUB_EMULATOR_HOST="127.0.0.1:1")
    own_environ["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:1"  # exported from that cloud while it ran
    with pytest.raises(UserError, match="is not running \\(its services are gone\\)"):
        reach.reach(_args(state), reach.PUBSUB)
    assert "PUBSUB_EMULATOR_HOST" not in os.environ


def test_variables_that_point_at_local_services_are_enough(own_environ, tmp_path: Path) -> None:
    own_environ["PUBSUB_EMULATOR_HOST"] = "127.0.0.1:8085"
    reached = reach.reach(_args(tmp_path / "none"), reach.PUBSUB)
    assert not reached.running and reached.services == {reach.PUBSUB}


def test_gcp_reads_no_state_folder(own_environ, tmp_path: Path) -> None:
    own_environ["OBT_ENV"] = "gcp"
    _stack(tmp_path / "state", os.getpid(), STORAGE_EMULATOR_HOST="http://127.0.0.1:4443")
    reached = reach.reach(_args(), reach.STORAGE, reach.PUBSUB, reach.DATAPROC, reach.POSTGRES)
    assert not reached.running and reached.settings.env == "gcp"
    assert "STORAGE_EMULATOR_HOST" not in os.environ


def test_an_explicit_state_dir_names_the_warehouse(own_environ, tmp_path: Path) -> None:
    own_environ["OBT_WAREHOUSE_PATH"] = "/elsewhere/w.duckdb"
    assert reach.reach(_args()).settings.warehouse_path == Path("/elsewhere/w.duckdb")
    assert reach.reach(_args(tmp_path / "s")).settings.warehouse_path == tmp_path / "s" / "warehouse.duckdb"
