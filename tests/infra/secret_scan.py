"""A small secret scanner over the repository's text files (what a pre-commit hook would catch)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = {".git", ".venv", ".venv-checkov", ".obt", "__pycache__", ".pytest_cache", ".ruff_cache", ".terraform"}
SKIP_DIRS |= {".build", "node_modules", "dist", "build", "obt_pipeline.egg-info"}
MAX_BYTES = 2_000_000

# Placeholders and local-only throwaway values that are not credentials.
_HARMLESS = re.compile(r"^(|x+|\*+|changeme|example|password|postgres|secret|test|dummy|local|none|null)$", re.I)

# A reviewed, deliberate non-secret on one line says so with this marker (as detect-secrets does).
ALLOW_MARKER = "pragma: allowlist secret"

RULES: dict[str, re.Pattern[str]] = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |ENCRYPTED |PGP )?PRIVATE KEY(?: BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "service-account key JSON": re.compile(r'"type"\s*:\s*"service_account"[\s\S]{0,2000}?"private_key"\s*:'),
    "Google API key": re.compile(r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    "password in code": re.compile(
        r"""(?i)\b(?:password|passwd|pwd|secret|api_key|apikey|token)\b["']?\s*[:=]\s*["']([^"'\s$%{}<>]{6,})["']"""
    ),
    "credentials in URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]+:([^/\s:@$%{}<>]{6,})@[^\s/]+"),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    rule: str


def scan_text(text: str, path: str = "<text>") -> list[Finding]:
    findings = []
    lines = text.splitlines()
    for rule, pattern in RULES.items():
        for match in pattern.finditer(text):
            if match.groups() and _HARMLESS.match(match.group(1) or ""):
                continue
            line = text.count("\n", 0, match.start())
            if line < len(lines) and ALLOW_MARKER in lines[line]:
                continue
            findings.append(Finding(path, line + 1, rule))
    return findings


def text_files(root: Path) -> Iterator[Path]:
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)  # prune: never descend into virtualenvs
        for name in sorted(files):
            path = Path(folder, name)
            if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_BYTES:
                yield path


def scan_tree(root: Path) -> list[Finding]:
    findings = []
    for path in text_files(root):
        data = path.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary
        findings += scan_text(data.decode("utf-8", errors="replace"), str(path.relative_to(root)))
    return findings
