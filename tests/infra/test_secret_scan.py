"""Nothing in the repository looks like a credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.infra.secret_scan import scan_text, scan_tree

REPO = Path(__file__).resolve().parents[2]

# Reviewed findings: (path, rule) -> why it is not a credential.
REVIEWED = {
    (
        "obt_tools/local/postgres.py",
        "password in code",
    ): "throwaway password of the local PostgreSQL bound to 127.0.0.1",
}

# Samples are assembled at run time so that this file itself does not trip the scanner.
SAMPLES = {
    "private key": "-----BEGIN " + "RSA PRIVATE KEY-----\nMIIE...",
    "AWS access key id": "aws_key = " + "AKIA" + "ABCDEFGHIJKLMNOP",
    "service-account key JSON": '{"type": "service_' + 'account", "project_id": "p", "private_' + 'key": "x"}',
    "Google API key": "key=" + "AIza" + "Sy" + "A" * 33,
    "GitHub token": "gh" + "p_" + "a1B2" * 9,
    "password in code": "PASS" + 'WORD = "hunter2hunter2"',
    "credentials in URL": "postgresql://app:" + "s3cretpass@db.example.com/x",
}


@pytest.mark.parametrize("rule", sorted(SAMPLES))
def test_scanner_catches_each_kind_of_credential(rule: str) -> None:
    assert rule in {f.rule for f in scan_text(SAMPLES[rule])}


@pytest.mark.parametrize(
    "text",
    [
        'password = ""',
        "password = os.environ['OBT_PG_PASSWORD']",
        'OBT_PG_PASSWORD_SECRET = "${var.secret}"',
        "postgresql://user:${PASSWORD}@host/db",
        'token = "xxxxxxxx"',
        'PASSWORD = "obt-local-but-reviewed"  # pragma: allowlist secret',
    ],
)
def test_scanner_ignores_placeholders_and_references(text: str) -> None:
    assert scan_text(text) == []


def test_repository_has_no_credentials() -> None:
    findings = [f for f in scan_tree(REPO) if (f.path, f.rule) not in REVIEWED]
    assert not findings, "\n".join(f"{f.path}:{f.line}: looks like a {f.rule}" for f in findings)
