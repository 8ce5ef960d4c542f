"""``obt upload``: a vendor file into the raw bucket of the local cloud, named by the layout."""

from __future__ import annotations

from pathlib import Path

from obt import clients
from obt_tools import cli
from tests.on_raw_landed.stack import scratch_bucket


def test_upload_names_the_object_by_the_layout(gcs_emulator, own_environ, tmp_path: Path, capsys) -> None:
    bucket = scratch_bucket(gcs_emulator.project, "upl")
    own_environ.update(STORAGE_EMULATOR_HOST=gcs_emulator.url, OBT_RAW_BUCKET=bucket)
    vendor = tmp_path / "log_reviews.csv"
    vendor.write_text("id_review,log\n1,<reviewlog/>\n")
    assert cli.main(["upload", str(vendor), "--ingest-date", "2026-11-23"]) == 0
    name = "log_reviews/ingest_date=2026-11-23/log_reviews.csv"
    blob = clients.storage_client(gcs_emulator.project).bucket(bucket).get_blob(name)
    assert blob is not None and blob.download_as_bytes() == vendor.read_bytes()
    assert (
        capsys.readouterr().out == f"uploaded gs://{bucket}/{name}: generation {blob.generation}, {blob.size} bytes\n"
    )


def test_a_file_of_no_vendor_source_is_one_line(own_environ, tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.csv").write_text("x\n")
    assert cli.main(["upload", str(tmp_path / "notes.csv")]) == 2
    assert capsys.readouterr().err == (
        "obt upload: error: cannot tell the source of notes.csv: pass --source (movie_review or log_reviews)\n"
    )
