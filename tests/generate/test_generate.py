"""The synthetic generator: shapes, dirt, determinism, streaming and its CLI errors."""

from __future__ import annotations

import csv
import gzip
import lzma
import re
import subprocess
import sys
import tracemalloc
import xml.etree.ElementTree as ET
from collections import Counter
from datetime import date
from itertools import islice
from pathlib import Path

import pytest

from obt.errors import UserError
from obt_tools import generate as gen
from obt_tools.cli import main

SCALE = 0.02
SEED = 7
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
DATE = re.compile(r"^(1[0-2]|[1-9])/([1-9]|[12][0-9]|3[01])/(2010|2011) ([0-9]|1[0-9]|2[0-3]):[0-5][0-9]$")
GOOD_SPLIT = re.compile(r"[^a-z0-9]+")
TAG = re.compile(r"<[^>]*>")


def read(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gen")
    gen.generate(folder, SCALE, SEED)
    return folder


@pytest.fixture(scope="module")
def purchases(out: Path) -> list[list[str]]:
    return read(out / "user_purchase.csv")


@pytest.fixture(scope="module")
def reviews(out: Path) -> list[list[str]]:
    return read(out / "movie_review.csv")


@pytest.fixture(scope="module")
def logs(out: Path) -> list[list[str]]:
    return read(out / "log_reviews.csv")


def test_same_seed_same_bytes_other_seed_other_bytes(out: Path, tmp_path: Path) -> None:
    gen.generate(tmp_path / "again", SCALE, SEED)
    gen.generate(tmp_path / "other", SCALE, SEED + 1)
    for name in gen.FILES.values():
        assert (tmp_path / "again" / name).read_bytes() == (out / name).read_bytes(), name
        assert (tmp_path / "other" / name).read_bytes() != (out / name).read_bytes(), name


def test_purchase_shape_and_size(purchases: list[list[str]]) -> None:
    header, rows = purchases[0], purchases[1:]
    assert tuple(header) == gen.PURCHASE_HEADER
    assert len(rows) == round(gen.PURCHASE_ROWS * SCALE)
    assert all(len(row) == 8 for row in rows)
    assert all(DATE.match(row[4]) for row in rows)
    assert all(re.fullmatch(r"-?\d+", row[3]) for row in rows)
    assert all(re.fullmatch(r"-?\d+(\.\d{1,3})?", row[5]) for row in rows)
    assert all(row[6] == "" or row[6].isdigit() for row in rows)
    assert rows[0][4].startswith("12/1/2010 ")


def test_purchase_dirt_is_present_in_realistic_shares(purchases: list[list[str]]) -> None:
    rows = purchases[1:]
    n = len(rows)
    missing = sum(row[6] == "" for row in rows) / n
    assert 0.18 < missing < 0.32
    cancelled = [row for row in rows if row[0].startswith("C")]
    assert 0.005 < len(cancelled) / n < 0.04
    assert all(int(row[3]) < 0 for row in cancelled)
    assert any(len(row[1]) == 1 for row in rows)
    assert any(int(row[3]) < 0 and not row[0].startswith("C") for row in rows)
    duplicates = sum(count - 1 for count in Counter(map(tuple, rows)).values())
    assert 0.003 < duplicates / n < 0.03
    assert any(row[2].endswith(" ") for row in rows)
    assert any(row[2] == "" for row in rows)
    assert any("," in row[2] for row in rows)
    assert len({row[7] for row in rows}) > 5


def test_vendor_shapes_ids_match_and_start_at_one(reviews: list[list[str]], logs: list[list[str]]) -> None:
    assert tuple(reviews[0]) == gen.REVIEW_HEADER
    assert tuple(logs[0]) == gen.LOG_HEADER
    expected = set(range(1, round(gen.REVIEW_ROWS * SCALE) + 1))
    assert {int(row[2]) for row in reviews[1:]} == expected
    assert {int(row[0]) for row in logs[1:]} == expected
    assert all(len(row) == 3 for row in reviews[1:])
    assert all(len(row) == 2 for row in logs[1:])


def test_vendor_rows_repeat_only_exactly(reviews: list[list[str]], logs: list[list[str]]) -> None:
    for rows, key in ((reviews[1:], 2), (logs[1:], 0)):
        by_id: dict[str, set[tuple[str, ...]]] = {}
        for row in rows:
            by_id.setdefault(row[key], set()).add(tuple(row))
        assert all(len(variants) == 1 for variants in by_id.values()), "a review id with two different rows"
        assert len(rows) > len(by_id), "expected a few exact duplicate rows"


def test_review_text_is_dirty_and_about_as_positive_as_the_real_one(reviews: list[list[str]]) -> None:
    texts = [row[1] for row in reviews[1:]]
    assert any("<br /><br />" in text for text in texts)
    assert any("\n" in text for text in texts)
    assert any('"' in text for text in texts)
    assert any("," in text for text in texts)
    assert any(text != text.strip() for text in texts)
    positive = [text for text in texts if "good" in GOOD_SPLIT.split(TAG.sub(" ", text.lower()))]
    assert 0.3 < len(positive) / len(texts) < 0.45
    # Look-alikes that are not the token "good" appear in reviews that are not positive.
    assert any("goodness" in text.lower() and text not in positive for text in texts)


def test_review_texts_are_as_long_as_the_real_ones(reviews: list[list[str]]) -> None:
    # The real file: median 962 characters, mean 1,307, about 4 "<br" per review. A scaled-up file stands for
    # that many real ones only if its texts are as long (the transform benchmark's 10x relies on it).
    lengths = sorted(len(row[1]) for row in reviews[1:])
    assert 800 < lengths[len(lengths) // 2] < 1_150
    assert 1_100 < sum(lengths) / len(lengths) < 1_500
    assert lengths[-1] < 11_000
    breaks = sum(row[1].count("<br") for row in reviews[1:]) / len(lengths)
    assert 2.5 < breaks < 6


def test_logs_are_wellformed_xml_with_the_documented_values(logs: list[list[str]]) -> None:
    locations = Counter()
    for _, log in logs[1:]:
        node = ET.fromstring(log).find("log")
        assert node is not None
        fields = {child.tag: child.text for child in node}
        assert list(fields) == ["logDate", "device", "location", "os", "ipAddress", "phoneNumber"]
        month, day, year = fields["logDate"].split("-")
        assert year == "2021" and 1 <= int(month) <= 10 and len(month) == 2 and len(day) == 2
        assert fields["device"] in ("Mobile", "Tablet", "Computer")
        assert fields["os"] in ("Apple MacOS", "Apple iOS", "Linux", "Microsoft Windows", "Google Android")
        assert re.fullmatch(r"\d{3}-\d{3}-\d{4}", fields["phoneNumber"])
        locations[fields["location"]] += 1
    assert {"Pensylvania", "Lousiana", "Massachussets"} <= set(locations)
    assert len(locations) == 50


def test_review_customers_mostly_have_purchases(purchases: list[list[str]], reviews: list[list[str]]) -> None:
    buyers = {row[6] for row in purchases[1:] if row[6]}
    reviewers = {row[0] for row in reviews[1:]}
    with_purchases = reviewers & buyers
    assert len(with_purchases) > 0.8 * len(reviewers)
    assert reviewers - buyers, "some reviewers should have no purchases"


def test_second_vendor_day_continues_ids_and_skips_purchases(tmp_path: Path, reviews: list[list[str]]) -> None:
    first_last = max(int(row[2]) for row in reviews[1:])
    written = gen.generate(tmp_path, SCALE, SEED + 1, id_offset=first_last, sources=("movie_review", "log_reviews"))
    assert set(written) == {"movie_review", "log_reviews"}
    assert not (tmp_path / "user_purchase.csv").exists()
    ids = {int(row[2]) for row in read(tmp_path / "movie_review.csv")[1:]}
    assert min(ids) == first_last + 1
    assert ids == {int(row[0]) for row in read(tmp_path / "log_reviews.csv")[1:]}


def test_a_log_window_moves_only_the_log_dates(tmp_path: Path, logs: list[list[str]]) -> None:
    # A daily vendor drop: every session of the day's file on that day, everything else as the default file has it.
    gen.generate(tmp_path, SCALE, SEED, sources=("log_reviews",), log_start=date(2021, 3, 5), log_days=1)
    windowed = read(tmp_path / "log_reviews.csv")
    log_date = re.compile(r"<logDate>[^<]*</logDate>")
    assert {log_date.search(row[1])[0] for row in windowed[1:]} == {"<logDate>03-05-2021</logDate>"}
    assert [[row[0], log_date.sub("", row[1])] for row in windowed] == [
        [row[0], log_date.sub("", row[1])] for row in logs
    ]


def test_a_log_window_holds_every_day_and_no_other(tmp_path: Path) -> None:
    gen.generate(tmp_path, SCALE, SEED, sources=("log_reviews",), log_start=date(2021, 12, 30), log_days=3)
    days = {ET.fromstring(row[1]).findtext("log/logDate") for row in read(tmp_path / "log_reviews.csv")[1:]}
    assert days == {"12-30-2021", "12-31-2021", "01-01-2022"}


def test_an_empty_log_window_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="log_days"):
        gen.generate(tmp_path, SCALE, SEED, sources=("log_reviews",), log_days=0)
    assert not (tmp_path / "log_reviews.csv").exists()


def test_rows_are_produced_lazily_so_a_huge_scale_costs_nothing_up_front() -> None:
    first = list(islice(gen.purchase_rows(gen.MAX_SCALE, SEED), 3))
    assert len(first) == 3
    assert next(gen.review_rows(gen.MAX_SCALE, SEED))[2] == "1"


def _peak_bytes(folder: Path, scale: float) -> int:
    tracemalloc.start()
    try:
        gen.generate(folder, scale, SEED)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_scale(tmp_path: Path) -> None:
    small = _peak_bytes(tmp_path / "small", 0.005)
    large = _peak_bytes(tmp_path / "large", 0.05)
    assert large < small * 1.5 + 1_000_000, (small, large)


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    def rows():
        yield ("1", "x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        gen.write_csv(tmp_path / "log_reviews.csv", gen.LOG_HEADER, rows())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("scale", ["abc", "0", "-1", "nan", "inf", "1000", ""])
def test_bad_scale_is_a_one_line_error(scale: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--out", str(tmp_path / "x"), "--scale", scale]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--scale" in err
    assert not (tmp_path / "x").exists()


def test_unwritable_output_is_a_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write"):
        gen.generate(blocker, 0.001, SEED)


def test_cli_writes_files_and_reports_without_traceback(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "obt_tools", "generate", "--out", str(tmp_path), "--scale", "0.001", "--seed", "3"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(gen.FILES.values())
    assert ok.stdout.count(" rows (scale 0.001, seed 3)\n") == 3
    bad = subprocess.run(
        [sys.executable, "-m", "obt_tools", "generate", "--out", str(tmp_path), "--scale", "lots"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "Traceback" not in bad.stderr


@pytest.mark.realdata
def test_headers_and_first_date_match_the_real_files(purchases: list[list[str]], out: Path) -> None:
    if not DATA.is_dir():
        pytest.skip(f"real data not found at {DATA}")
    with gzip.open(DATA / "user_purchase.csv.gz", "rt", newline="") as handle:
        real = list(islice(csv.reader(handle), 2))
    assert purchases[0] == real[0]
    assert DATE.match(real[1][4]), "the date pattern these tests check is the real file's"
    with gzip.open(DATA / "log_reviews.csv.gz", "rt", newline="") as handle:
        assert next(csv.reader(handle)) == list(gen.LOG_HEADER)
    with lzma.open(DATA / "movie_review.csv.xz", "rt", newline="") as handle:
        assert next(csv.reader(handle)) == list(gen.REVIEW_HEADER)


def test_every_purchase_row_loads_through_the_postgres_seeder(out: Path) -> None:
    from obt_tools.seed import converted_records, open_text

    with open_text(out / "user_purchase.csv") as text:
        assert sum(1 for _ in converted_records(text)) == round(gen.PURCHASE_ROWS * SCALE)


def test_parse_scale_works_as_an_argparse_type_without_a_traceback() -> None:
    import argparse

    parser = argparse.ArgumentParser(exit_on_error=False)
    parser.add_argument("--scale", type=gen.parse_scale)
    assert parser.parse_args(["--scale", "0.5"]).scale == 0.5
    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--scale", "-2"])


def test_demo_inputs_are_reused_until_the_generator_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from obt_tools import demo

    calls: list[float] = []
    real_generate = gen.generate

    def counted(out: Path, scale: float, **kwargs: int) -> None:
        calls.append(scale)
        real_generate(out, scale, **kwargs)

    monkeypatch.setattr(gen, "generate", counted)
    first = demo.generated_inputs(tmp_path, 0.001, seed_value=SEED)
    again = demo.generated_inputs(tmp_path, 0.001, seed_value=SEED)
    assert calls == [0.001] and again == first
    # Files written by another version of the generator are stale: made again, not reused.
    monkeypatch.setattr(gen, "fingerprint", lambda: "another version")
    demo.generated_inputs(tmp_path, 0.001, seed_value=SEED)
    assert calls == [0.001, 0.001]
