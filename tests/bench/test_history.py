"""The pure parts of ``bench/history.py``: options, inputs, the stand-in bucket, the table and its last line.

The bench itself is not run here: even ``--quick`` takes well over a minute (a JVM and nine builds, four of them
the warm-up).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from obt_contract import layout

_SPEC = importlib.util.spec_from_file_location(
    "bench_history", Path(__file__).resolve().parents[2] / "bench" / "history.py"
)
history = importlib.util.module_from_spec(_SPEC)
# Registered first: its dataclasses look their module up while it runs.
sys.modules[_SPEC.name] = history
_SPEC.loader.exec_module(history)


def figures(build_s: float, partitions: str = "n/a") -> history.Figures:
    return history.Figures(build_s, build_s / 2, 1_000, 0.4, 1_000, 40, 0, 0, partitions)


def test_day_counts_are_sorted_unique_and_at_least_two() -> None:
    assert history.day_counts("30,1,10,10") == (1, 10, 30)
    for bad in ("1", "0,3", "a,b", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            history.day_counts(bad)


def test_options_default_to_the_issue_and_quick_to_a_smoke_run() -> None:
    options = history.parse_options([])
    assert (options.scale, options.days) == (0.2, (1, 10, 30))
    quick = history.parse_options(["--quick"])
    assert (quick.scale, quick.days) == (0.01, (1, 3))
    assert history.parse_options(["--quick", "--days", "1,2"]).days == (1, 2)


def test_the_full_rebuild_flag_is_found_in_the_parser_given() -> None:
    parser = argparse.ArgumentParser()
    assert not history.has_full_rebuild(parser)
    parser.add_argument("--full-rebuild", action="store_true")
    assert history.has_full_rebuild(parser)


def test_partitions_merged_reads_a_ledger_with_or_without_the_column() -> None:
    assert history.partitions_merged({"rows_staged": 3}) == "n/a"
    assert history.partitions_merged({"partitions": None}) == "all"
    assert history.partitions_merged({"partitions": '["2021-01-01", "2021-01-02"]'}) == "2"


def test_daily_drops_follow_the_raw_layout_hold_their_own_ids_and_day_and_are_reused(tmp_path: Path) -> None:
    inputs = history.prepare(tmp_path, 0.001, 2)
    assert json.loads(inputs.purchases_manifest.read_text())["total_rows"] > 0
    ids, days = [], []
    for drop in inputs.drops:
        for path in drop:
            raw = layout.classify_raw(path.relative_to(tmp_path).as_posix())
            assert raw is not None and raw.kind == "vendor"
        logs = drop.logs.read_text()
        ids.append(set(re.findall(r"^(\d+),", logs, re.MULTILINE)))
        days.append(set(re.findall(r"<logDate>([^<]*)</logDate>", logs)))
    assert days == [{"01-01-2021"}, {"01-02-2021"}]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    made = [path.stat().st_mtime_ns for drop in inputs.drops for path in drop]
    assert history.prepare(tmp_path, 0.001, 2) == inputs
    assert [path.stat().st_mtime_ns for drop in inputs.drops for path in drop] == made


def test_the_bucket_shows_each_output_root_as_the_curated_bucket(tmp_path: Path) -> None:
    bucket = history.CuratedBucket()
    for root, build in ((tmp_path / "incremental", "obt-1"), (tmp_path / "full-1", "obt-2")):
        folder = root / layout.build_prefix(build)
        folder.mkdir(parents=True)
        prefix = f"{history.file_uri(root)}/{layout.build_prefix(build)}"
        (folder / layout.MANIFEST_NAME).write_text(json.dumps({"obt": {"uri_prefix": prefix}}))
        (folder / "part-0.parquet").write_bytes(b"PAR1")
        bucket.roots.append(root)
    gs = f"gs://{history.CURATED}/"
    assert bucket.read_json(gs + layout.build_manifest_name("obt-2")) == {
        "obt": {"uri_prefix": gs + layout.build_prefix("obt-2")}
    }
    assert bucket.read_json(gs + layout.build_manifest_name("obt-3")) is None
    assert bucket.fetch(gs + layout.build_prefix("obt-1") + "part-0.parquet", tmp_path / "got" / "p.parquet")
    assert (tmp_path / "got" / "p.parquet").read_bytes() == b"PAR1"


def test_the_table_aligns_and_the_last_line_is_the_incremental_ratio() -> None:
    rows = [
        history.Row(1, figures(8.0), figures(8.0, "all")),
        history.Row(30, figures(9.6, "1"), figures(48.0, "all")),
    ]
    lines = history.table(rows)
    assert len({len(line) for line in lines[1:]}) == 1
    assert lines[1].split() == [
        "days",
        "|",
        *" ".join(history.COLUMNS).split(),
        "|",
        *" ".join(history.COLUMNS).split(),
    ]
    assert "+40 ~0 -0" in lines[-1] and lines[-1].rstrip().endswith("all")
    reference, last = history.ratio_lines(rows)
    assert "wall: 6.00 (reference), task cpu 6.00 | incremental task cpu 1.20" in reference
    assert reference.endswith("met")
    assert last == "history ratio 30d/1d wall: 1.20"
    assert history.ratio_lines([rows[0], history.Row(30, figures(16.0), figures(48.0))])[0].endswith("MISSED")
