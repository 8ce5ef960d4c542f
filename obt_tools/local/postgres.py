"""A throwaway PostgreSQL 15 cluster on 127.0.0.1 (the extract source).

Debian's ``initdb`` and ``postgres`` refuse to run as root, so as root they run through
``runuser -u postgres --`` on a data folder owned by ``postgres``. When the state folder sits somewhere the
``postgres`` user cannot reach (pytest's 0700 temp folders), the cluster lives in a fixed folder under the
system temp dir derived from the state folder, so the next run still finds (and reuses or removes) it.
Unix sockets are disabled: everything connects over TCP with a password, like Cloud SQL.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from obt.log import get_logger
from obt_tools.local import procs

log = get_logger(__name__)

PG_BIN = Path(os.environ.get("OBT_PG_BIN", "/usr/lib/postgresql/15/bin"))
USER = "postgres"
PASSWORD = "obt-local"
DATABASE = "obt"
SERVICE = "postgres"


@dataclass(frozen=True)
class PostgresInfo:
    """How to connect; ``env()`` gives the ``OBT_PG_*`` variables ``Settings.from_env`` reads."""

    host: str
    port: int
    user: str = USER
    password: str = PASSWORD
    database: str = DATABASE

    def env(self) -> dict[str, str]:
        return {
            "OBT_PG_HOST": self.host,
            "OBT_PG_PORT": str(self.port),
            "OBT_PG_USER": self.user,
            "OBT_PG_PASSWORD": self.password,
            "OBT_PG_DATABASE": self.database,
        }

    def connect(self, database: str | None = None, timeout: float | None = None):
        """A pg8000 DB-API connection (caller closes it). ``timeout`` is a socket timeout for *every*
        operation, so leave it unset for real work."""
        import pg8000.dbapi

        return pg8000.dbapi.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            database=database or self.database,
            timeout=timeout,
        )


def binary(name: str) -> str:
    path = PG_BIN / name
    if path.exists():
        return str(path)
    found = shutil.which(name)
    if found:
        return found
    raise procs.ServiceError(
        f"PostgreSQL server binary {name!r} not found in {PG_BIN} or PATH: install postgresql-15 "
        "(apt-get install postgresql-15) or set OBT_PG_BIN"
    )


def _as_root() -> bool:
    return os.geteuid() == 0


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *argv] if _as_root() else argv


def _postgres_can_write(folder: Path) -> bool:
    if not _as_root():
        return os.access(folder, os.W_OK | os.X_OK)
    result = subprocess.run(_as_postgres(["test", "-w", str(folder), "-a", "-x", str(folder)]), check=False)
    return result.returncode == 0


def fallback_root(state_dir: Path) -> Path:
    digest = hashlib.sha256(str(state_dir.absolute()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"obt-pg-{digest}"


def data_root(state_dir: Path) -> Path:
    """The folder holding the cluster (``data/``) and its password file, owned by postgres when root."""
    root = state_dir / "postgres"
    root.mkdir(parents=True, exist_ok=True)
    if _as_root():
        owner = pwd.getpwnam(USER)
        os.chown(root, owner.pw_uid, owner.pw_gid)
        if not _postgres_can_write(root):
            root = fallback_root(state_dir)
            root.mkdir(mode=0o700, exist_ok=True)
            os.chown(root, owner.pw_uid, owner.pw_gid)
    return root


def _initdb(root: Path) -> None:
    data = root / "data"
    if (data / "PG_VERSION").exists():
        return
    pwfile = root / "pwfile"
    pwfile.write_text(PASSWORD + "\n")
    if _as_root():
        owner = pwd.getpwnam(USER)
        os.chown(pwfile, owner.pw_uid, owner.pw_gid)
    argv = _as_postgres(
        [
            binary("initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
        ]
    )
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    pwfile.unlink(missing_ok=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
        raise procs.ServiceError(f"initdb failed in {data}: {last[0]}")
    log.info("postgres cluster initialised", data_dir=str(data))


def start_postgres(
    state_dir: Path, port: int | None = None, die_with_parent: bool = False
) -> tuple[procs.Service, PostgresInfo]:
    """Initialise (first time) and start the cluster; returns once it accepts connections and ``obt`` exists."""
    root = data_root(state_dir)
    _initdb(root)

    def launch(chosen: int) -> procs.Service:
        argv = _as_postgres(
            [
                binary("postgres"),
                "-D",
                str(root / "data"),
                "-p",
                str(chosen),
                "-c",
                f"listen_addresses={procs.HOST}",
                "-c",
                "unix_socket_directories=",
                # Throwaway data: durability costs time and buys nothing here.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]
        )
        url = f"postgresql://{USER}@{procs.HOST}:{chosen}/{DATABASE}"
        # SIGINT is PostgreSQL's "fast" shutdown; SIGTERM would wait for every client to disconnect.
        service = procs.start(
            SERVICE, argv, state_dir, port=chosen, url=url, stop_signal=signal.SIGINT, die_with_parent=die_with_parent
        )
        procs.wait_for_port(service, timeout=60, check=lambda: _ping(PostgresInfo(procs.HOST, chosen)))
        return service

    service = procs.with_port(SERVICE, port, launch)
    info = PostgresInfo(procs.HOST, service.port)
    _ensure_database(info)
    return service, info


def _ping(info: PostgresInfo) -> bool:
    conn = info.connect(database="postgres", timeout=5)
    conn.close()
    return True


def _ensure_database(info: PostgresInfo) -> None:
    conn = info.connect(database="postgres")
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (info.database,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{info.database}"')
            log.info("postgres database created", database=info.database)
    finally:
        conn.close()


def remove_fallback(state_dir: Path) -> None:
    """Delete a cluster kept outside the state folder (after the server stopped)."""
    root = fallback_root(state_dir)
    if root.exists():
        shutil.rmtree(root, ignore_errors=True)
