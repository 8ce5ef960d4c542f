"""Connection choices (Cloud SQL connector vs direct pg8000) and failure classification, no network."""

from __future__ import annotations

import pg8000.dbapi
import pytest

from obt.config import Settings
from obt.errors import TransientError
from obt.extract import postgres


class FakeConnector:
    instances: list[FakeConnector] = []

    def __init__(self, **kwargs) -> None:
        self.kwargs = kwargs
        self.calls: list[tuple] = []
        FakeConnector.instances.append(self)

    def connect(self, instance: str, driver: str, **kwargs):
        self.calls.append((instance, driver, kwargs))
        return type("Conn", (), {"autocommit": False})()


@pytest.fixture
def fake_connector(monkeypatch):
    import google.cloud.sql.connector as connector_module

    FakeConnector.instances.clear()
    monkeypatch.setattr(connector_module, "Connector", FakeConnector)
    monkeypatch.setattr(postgres, "_connector", None)
    return FakeConnector


def test_cloudsql_uses_the_lazy_connector_with_iam(fake_connector):
    settings = Settings(env="gcp", cloudsql_instance="p:r:i", pg_user="sa@p.iam", pg_iam_auth=True, pg_database="db")
    conn = postgres.connect(settings)
    postgres.connect(settings)
    (connector,) = fake_connector.instances  # one connector per process
    assert connector.kwargs == {"refresh_strategy": "lazy", "ip_type": "public"}
    assert connector.calls[0] == ("p:r:i", "pg8000", {"user": "sa@p.iam", "db": "db", "enable_iam_auth": True})
    assert conn.autocommit is True


def test_cloudsql_password_comes_from_secret_manager(fake_connector, monkeypatch):
    seen = []
    monkeypatch.setattr(postgres, "secret_password", lambda secret, project: seen.append((secret, project)) or "s3")
    settings = Settings(env="gcp", project="proj", cloudsql_instance="p:r:i", pg_password_secret="pg-pass")
    postgres.connect(settings)
    assert seen == [("pg-pass", "proj")]
    assert fake_connector.instances[0].calls[0][2]["password"] == "s3"


def test_unreachable_database_is_transient():
    port = 1  # nothing listens on port 1
    with pytest.raises(TransientError, match="cannot connect"):
        postgres.connect(Settings(pg_host="127.0.0.1", pg_port=port))


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (pg8000.dbapi.InterfaceError("network error"), True),
        (pg8000.dbapi.DatabaseError({"C": "57P01", "M": "terminating connection"}), True),
        (pg8000.dbapi.DatabaseError({"C": "08006", "M": "connection failure"}), True),
        (pg8000.dbapi.DatabaseError({"C": "42P01", "M": "relation does not exist"}), False),
        (pg8000.dbapi.DatabaseError({"C": "42501", "M": "permission denied"}), False),
        (ValueError("x"), False),
    ],
)
def test_failure_classification(exc, transient):
    assert postgres.is_transient(exc) is transient


def test_identifiers_are_always_quoted():
    assert postgres.quote_ident("user_purchase") == '"user_purchase"'
    assert postgres.quote_ident('a"; DROP TABLE x; --') == '"a""; DROP TABLE x; --"'
