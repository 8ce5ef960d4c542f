"""PostgreSQL connections for the extract and the seed loader, identical DB-API objects in both worlds.

Locally pg8000 connects straight to ``Settings.pg_host:pg_port``. In GCP (``OBT_CLOUDSQL_INSTANCE`` set) the
Cloud SQL Python Connector opens the TLS tunnel and hands back a pg8000 DB-API connection. Its refresh
strategy is ``lazy`` because a serverless instance's CPU is throttled between requests, so the default
background certificate refresh would stall. The password is IAM database authentication
(``OBT_PG_IAM_AUTH``) or a Secret Manager secret (``OBT_PG_PASSWORD_SECRET``), or a plain setting locally.

Cloud Functions reuse an instance for many requests, so ``shared_connection`` keeps one connection per
process, created on first use. A connection that failed mid-protocol (e.g. an aborted ``COPY``) cannot be
reused: ``shared_connection`` drops it when its caller fails, and the next request reconnects.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pg8000.dbapi

from obt.config import Settings
from obt.errors import TransientError
from obt.log import get_logger

log = get_logger(__name__)

# SQLSTATE classes meaning "the server or the link is in trouble, try again": connection exceptions,
# insufficient resources, operator intervention (shutdown, crash recovery), serialization failures.
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57P", "40001", "40P01", "55P03")

_lock = threading.Lock()
_shared: Any = None
_shared_key: tuple = ()
_connector: Any = None


def quote_ident(name: str) -> str:
    """Quote an SQL identifier the way PostgreSQL's ``quote_ident`` does (always quoted)."""
    if "\x00" in name:
        raise ValueError("identifier contains a NUL byte")
    return '"' + name.replace('"', '""') + '"'


def sqlstate(exc: BaseException) -> str:
    """The SQLSTATE of a pg8000 ``DatabaseError`` (``""`` for anything else)."""
    if isinstance(exc, pg8000.dbapi.DatabaseError) and exc.args and isinstance(exc.args[0], dict):
        return str(exc.args[0].get("C", ""))
    return ""


def is_transient(exc: BaseException) -> bool:
    """True when retrying later may succeed: the database is unreachable, restarting or overloaded."""
    if isinstance(exc, (pg8000.dbapi.InterfaceError, OSError, TimeoutError)):
        return True
    code = sqlstate(exc)
    return bool(code) and code.startswith(_TRANSIENT_SQLSTATE_PREFIXES)


def secret_password(secret: str, project: str) -> str:
    """Read a password from Secret Manager; ``secret`` is a full version name or a bare secret id."""
    from google.cloud import secretmanager

    name = secret if secret.startswith("projects/") else f"projects/{project}/secrets/{secret}/versions/latest"
    if "/versions/" not in name:
        name += "/versions/latest"
    response = secretmanager.SecretManagerServiceClient().access_secret_version(name=name)
    return response.payload.data.decode("utf-8")


def _cloudsql_connect(settings: Settings):
    global _connector
    from google.cloud.sql.connector import Connector

    if _connector is None:
        _connector = Connector(refresh_strategy="lazy", ip_type=settings.cloudsql_ip_type)
    kwargs: dict[str, Any] = {"user": settings.pg_user, "db": settings.pg_database}
    if settings.pg_iam_auth:
        kwargs["enable_iam_auth"] = True
    elif settings.pg_password_secret:
        kwargs["password"] = secret_password(settings.pg_password_secret, settings.project)
    else:
        kwargs["password"] = settings.pg_password
    return _connector.connect(settings.cloudsql_instance, "pg8000", **kwargs)


def connect(settings: Settings):
    """A new pg8000 DB-API connection (autocommit: callers open the transactions they need)."""
    try:
        if settings.cloudsql_instance:
            conn = _cloudsql_connect(settings)
            where = settings.cloudsql_instance
        else:
            conn = pg8000.dbapi.connect(
                user=settings.pg_user,
                host=settings.pg_host,
                port=settings.pg_port,
                database=settings.pg_database,
                password=settings.pg_password or None,
                timeout=30,
                application_name="obt",
            )
            where = f"{settings.pg_host}:{settings.pg_port}"
    except Exception as exc:
        if is_transient(exc) or settings.cloudsql_instance:
            raise TransientError(f"cannot connect to PostgreSQL: {exc}") from exc
        raise
    conn.autocommit = True
    log.info("connected to PostgreSQL", where=where, database=settings.pg_database)
    return conn


@contextmanager
def shared_connection(settings: Settings) -> Iterator[Any]:
    """The process's one connection, used by one caller at a time; dropped if the caller fails."""
    global _shared, _shared_key
    key = (settings.cloudsql_instance, settings.pg_host, settings.pg_port, settings.pg_database, settings.pg_user)
    with _lock:
        if _shared is not None and key != _shared_key:
            _discard_shared()
        if _shared is None:
            _shared = connect(settings)
            _shared_key = key
        try:
            yield _shared
        except BaseException:
            _discard_shared()
            raise


def _discard_shared() -> None:
    global _shared
    conn, _shared = _shared, None
    if conn is not None:
        try:
            conn.close()
        except Exception as exc:  # the link is already broken; closing is best effort
            log.debug("closing a broken connection failed", error=str(exc))
