"""The demo's purchase snapshot follows what was seeded: re-seeding other rows on the same state and day makes a
new snapshot, and the build the system plans reads it. Real PostgreSQL, storage emulator and extract_postgres
(served by functions-framework, called over HTTP as the demo calls it); no Spark: the planned build names every
part it reads, so the parts' rows are the rows the OBT's purchase metrics come from."""

from __future__ import annotations

import csv
import gzip
import io
import json
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest

from obt import clients
from obt.config import Settings
from obt.errors import UserError
from obt_contract import sources
from obt_tools import demo, generate
from obt_tools.local import functions, procs, stack

D = date(2026, 11, 23)
SCALE = 0.002  # ~1,100 purchase lines


@pytest.fixture
def session(postgres, gcs_emulator, tmp_path: Path) -> Iterator[demo.DemoSession]:
    """A demo session on its own database and raw bucket (the session's services are shared), with the real
    extract_postgres recorded in STATE/stack.json as ``obt local up`` records it."""
    state_dir = procs.ensure_state_dir(tmp_path / "state")
    database, bucket = f"demo_{uuid.uuid4().hex[:8]}", f"obt-raw-demo-{uuid.uuid4().hex[:8]}"
    conn = postgres.connect()
    conn.autocommit = True
    try:
        conn.cursor().execute(f"CREATE DATABASE {database}")
    finally:
        conn.close()
    clients.storage_client(gcs_emulator.project).create_bucket(bucket)
    env = {
        **postgres.env(),
        **gcs_emulator.env(),
        "OBT_PG_DATABASE": database,
        "OBT_RAW_BUCKET": bucket,
        "OBT_STATE_DIR": str(state_dir),
    }
    [spec] = [f for f in functions.FUNCTIONS if f.name == "extract_postgres"]
    extract = functions.start_spec(state_dir, spec, stack.REPO_ROOT, env, die_with_parent=True)
    stack.stack_path(state_dir).write_text(
        json.dumps(
            {"services": {spec.name: {"pid": extract.pid, "port": extract.port, "url": extract.url}}, "env": env}
        )
    )
    chain = demo.DemoSession(state_dir)
    chain.settings = Settings.from_env(env)
    try:
        yield chain
    finally:
        procs.stop(extract)


def purchases(folder: Path, seed: int) -> Path:
    generate.generate(folder, SCALE, seed=seed, sources=(sources.PURCHASES,))
    return folder / generate.FILES[sources.PURCHASES]


def seeded_lines(path: Path) -> list[tuple[str, str, int]]:
    """(invoice, stock code, quantity) of every line of a seed file."""
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return sorted((row[0], row[1], int(row[3])) for row in rows)


def snapshot_lines(session: demo.DemoSession, part_names: list[str]) -> list[tuple[str, str, int]]:
    """The same triple for every record of the snapshot parts a build would read."""
    bucket = clients.storage(session.settings).bucket(session.settings.raw_bucket)
    found = []
    for name in part_names:
        text = gzip.decompress(bucket.blob(name).download_as_bytes()).decode()
        found += [(r["invoice_number"], r["stock_code"], int(r["quantity"])) for r in csv.DictReader(io.StringIO(text))]
    return sorted(found)


def build_reads(session: demo.DemoSession) -> tuple[str, list[tuple[str, str, int]]]:
    """The snapshot manifest the planned build uses and the purchase lines it reads."""
    plan = session.expected_build()
    return plan.purchases_manifest.name, snapshot_lines(session, [p.name for p in plan.purchases])


def extract_detail(session: demo.DemoSession) -> str:
    return next(s for s in reversed(session.stages) if s.name.startswith("extract")).detail


def test_reseeding_other_rows_the_same_day_makes_the_new_snapshot_the_build_input(
    session: demo.DemoSession, tmp_path: Path
) -> None:
    first, second = purchases(tmp_path / "a", seed=1), purchases(tmp_path / "b", seed=2)
    assert seeded_lines(first) != seeded_lines(second)
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    for source in (sources.MOVIE_REVIEW, sources.LOG_REVIEWS):
        (vendor / f"{source}.csv").write_text("placeholder: the planner only needs both vendor files present\n")
        session.upload_vendor(source, vendor / f"{source}.csv", D)

    session.seed_postgres(first)
    session.extract(D)
    snapshot_a, lines = build_reads(session)
    assert lines == seeded_lines(first)

    # The reported bug: the same day, other rows seeded, and the build still read the first snapshot.
    session.seed_postgres(second)
    session.extract(D)
    assert "reused" not in extract_detail(session)
    snapshot_b, lines = build_reads(session)
    assert snapshot_b != snapshot_a
    assert lines == seeded_lines(second)

    # The first rows again: their old snapshot is no longer the newest, so they get a new one.
    session.seed_postgres(first)
    session.extract(D)
    snapshot_a2, lines = build_reads(session)
    assert snapshot_a2 not in (snapshot_a, snapshot_b)
    assert lines == seeded_lines(first)

    # And again: now the newest snapshot holds these rows, so it is reused (the same OBT, no export).
    session.seed_postgres(first)
    session.extract(D)
    assert "(complete snapshot reused)" in extract_detail(session)
    assert build_reads(session)[0] == snapshot_a2

    # An earlier ingest date cannot win against the newer snapshot: said, not silently built on the wrong one.
    session.seed_postgres(second)
    session.extract(D - timedelta(days=1))
    with pytest.raises(UserError, match="use a later --ingest-date"):
        session.expected_build()
