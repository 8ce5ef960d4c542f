"""``obt status``: running batches (ListBatches through the ``Batches`` port) and builds read offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from obt.config import Settings
from obt.trigger import batches as batches_module
from obt.trigger.batches import DataprocBatches, EndedBatch
from obt_contract.layout import build_manifest_name
from obt_tools import cli
from obt_tools.status import StoredManifests, collect, render_status
from tests.load_obt.builds import CURATED, build_id, manifest

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class NoManifests:
    def manifest_uris(self, bucket: str) -> list[str]:
        return []

    def read_json(self, uri: str, generation: int | None = None) -> None:
        return None


class OneRunning:
    def __init__(self, build: str) -> None:
        self.build = build

    def active_since(self, since: datetime) -> list[EndedBatch]:
        return [EndedBatch(self.build, "RUNNING", "", NOW)]

    def ended_since(self, since: datetime) -> list[EndedBatch]:
        return []


def _text(status) -> str:
    console = Console(record=True, width=200)
    render_status(status, console)
    return console.export_text()


def test_a_running_build_is_not_no_builds(tmp_path: Path) -> None:
    build = build_id("running")
    settings = Settings(state_dir=tmp_path)
    text = _text(collect(settings, None, NoManifests(), batches=OneRunning(build)))
    assert "Running batches" in text and build in text and "RUNNING" in text
    assert "No builds in the curated bucket." not in text
    assert "No finished build in the curated bucket yet: 1 batch(es) running." in text


def test_active_since_lists_only_obt_batches_still_running(monkeypatch) -> None:
    def batch(name: str, state: str) -> SimpleNamespace:
        return SimpleNamespace(
            name=f"projects/p/locations/r/batches/{name}",
            state=SimpleNamespace(name=state),
            state_message="",
            create_time=NOW,
        )

    listed = [batch(build_id("a"), "RUNNING"), batch(build_id("b"), "SUCCEEDED"), batch("other-job", "RUNNING")]
    listed.append(batch(build_id("c"), "PENDING"))
    client = SimpleNamespace(list_batches=lambda request: listed)
    monkeypatch.setattr(batches_module.clients, "batches", lambda settings: client)
    active = DataprocBatches(Settings()).active_since(NOW - timedelta(hours=1))
    assert [(b.build_id, b.state) for b in active] == [(build_id("a"), "RUNNING"), (build_id("c"), "PENDING")]


def _store(root: Path, build: str) -> None:
    path = root / CURATED / build_manifest_name(build)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(manifest(build, ["part-0.parquet"], 7, watermark=3)))


def test_stored_manifests_read_the_emulator_files_newest_first(tmp_path: Path) -> None:
    old, new = build_id("old"), build_id("new")
    _store(tmp_path, old)
    _store(tmp_path, new)
    (tmp_path / CURATED / build_manifest_name(new)).touch()
    stored = StoredManifests(tmp_path)
    assert [stored.read_json(u)["build_id"] for u in stored.manifest_uris(CURATED)] == [old, new]
    assert stored.read_json(f"gs://{CURATED}/obt/build_id=nothing/_MANIFEST.json") is None


def test_cli_with_the_cloud_down_shows_the_stored_builds(own_environ, tmp_path: Path, capsys) -> None:
    build = build_id("stored")
    _store(tmp_path / "state" / "gcs", build)
    assert cli.main(["status", "--state-dir", str(tmp_path / "state")]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert build in out and "succeeded" in out
    assert f"builds read from {tmp_path / 'state' / 'gcs'}, running batches unknown" in out


def test_a_succeeded_build_whose_batch_failed_says_it_was_recovered() -> None:
    from obt_tools.status import recovery

    failed = EndedBatch("b", "FAILED", "publish timed out", NOW)
    succeeded = {"build_id": "b", "status": "succeeded"}
    assert recovery(succeeded, failed, loaded=True) == (
        "recovered: batch FAILED (publish timed out) after its manifest was written; "
        "loaded from the message obt reconcile republished"
    )
    assert recovery(succeeded, failed, loaded=False).endswith("not loaded yet: obt reconcile republishes its message")
    # A failed build, a batch that succeeded, or no batch known: nothing to explain.
    assert recovery({"build_id": "b", "status": "failed"}, failed, loaded=False) is None
    assert recovery(succeeded, EndedBatch("b", "SUCCEEDED", "", NOW), loaded=True) is None
    assert recovery(succeeded, None, loaded=True) is None
