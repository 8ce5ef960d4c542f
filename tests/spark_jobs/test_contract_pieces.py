"""Pure pieces of the job: arguments, path mapping, sources table, vendor dates and their layer markers, manifest
arithmetic, publishing."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal

import pytest
from obt_job import google_api, inputs, layer, publish, sources, vendor_dates
from obt_job import manifest as mf
from obt_job.args import parse_args
from obt_job.paths import PathMap

from obt_contract import layout
from obt_contract import message as contract_message
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES, REASONS
from tests.spark_jobs.helpers import TOPIC, job_argv, pubsub_stub


def _args(*flags: str, **overrides):
    argv = job_argv(
        "obt-abc",
        "gs://raw/user_purchase/ingest_date=2026-11-23/run_id=r/_MANIFEST.json#5",
        ["gs://raw/p0.csv.gz#3", "gs://raw/p1.csv.gz#4"],
        ["gs://raw/movie_review/ingest_date=2026-11-23/movie_review.csv#6"],
        ["gs://raw/log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz#7"],
        "gs://curated/",
        **overrides,
    )
    return parse_args([*argv, *flags])


def test_arguments_follow_the_contract():
    args = _args(max_share=0.25)
    assert args.tagger_model is None and args.full_rebuild is False
    model = "gs://sources/tagger/0123456789abcdef/"
    assert _args(tagger_model=model).tagger_model == model
    assert _args("--full-rebuild").full_rebuild is True
    assert args.purchases == ("gs://raw/p0.csv.gz#3", "gs://raw/p1.csv.gz#4")
    assert (args.output_root, args.topic, args.max_quarantine_share, args.input_watermark) == (
        "gs://curated",
        TOPIC,
        0.25,
        42,
    )


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--output", "/tmp/out"),
        ("--topic", "obt-build-complete"),
        ("--max-quarantine-share", "1.5"),
        # An input without its generation: the job could not tell which version it reads.
        ("--movie-reviews", "gs://r/movie_review.csv"),
        ("--purchases", "gs://r/p#latest"),
        ("--tagger-model", "models/tagger"),
    ],
)
def test_bad_arguments_are_rejected(flag, value, capsys):
    argv = job_argv("b", "gs://r/m.json#1", ["gs://r/p#1"], ["gs://r/m#1"], ["gs://r/l#1"], "gs://c") + [flag, value]
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    assert flag in capsys.readouterr().err


def test_mirror_maps_gs_uris_to_local_files(tmp_path):
    paths = PathMap(str(tmp_path))
    assert paths.spark_uri("gs://b/obt/build_id=x/") == f"file://{tmp_path}/b/obt/build_id=x/"
    assert paths.local_path("gs://b/a/b.json") == tmp_path / "b" / "a" / "b.json"
    assert paths.spark_uri("file:///data/x.csv") == "file:///data/x.csv"
    assert PathMap().spark_uri("gs://b/p") == "gs://b/p"


def test_counts_add_up_and_list_every_reason():
    counts = mf.source_counts(PURCHASES, {None: 10, "duplicate": 2, "missing_customer": 3})
    assert counts["read"] == 15
    assert counts["quarantined"] == {
        "malformed": 0,
        "missing_customer": 3,
        "non_product_code": 0,
        "cancelled_or_adjustment": 0,
        "duplicate": 2,
    }


def test_quality_threshold_per_source():
    sources = {
        PURCHASES: mf.source_counts(PURCHASES, {None: 4, "duplicate": 6}),
        MOVIE_REVIEW: mf.source_counts(MOVIE_REVIEW, {None: 5, "malformed": 5}),
        LOG_REVIEWS: mf.source_counts(LOG_REVIEWS, {}),
    }
    assert mf.quality_problems(sources, 0.5) == ["user_purchase: 6 of 10 rows quarantined (60.0%), above 50.0%"]
    assert mf.quality_problems(sources, 0.6) == []
    assert len(mf.quality_problems(sources, 0.0)) == 2


def test_tallies_sum_per_reason_and_metrics_read_only_kept_rows():
    logs = [
        {"reason": None, "unknown_location": None, "count": 7},
        {"reason": None, "unknown_location": "Atlantis", "count": 2},
        {"reason": "bad_log", "unknown_location": None, "count": 3},
    ]
    tallies = {
        PURCHASES: [
            {"reason": None, "count": 9, "customers": 4, "amount": Decimal("12.500")},
            {"reason": "duplicate", "count": 1, "customers": 1, "amount": Decimal("99")},
        ],
        MOVIE_REVIEW: [
            {"reason": None, "count": 6, "positive": 2},
            {"reason": "malformed", "count": 5, "positive": 5},
        ],
        LOG_REVIEWS: logs,
    }
    assert mf.by_reason(logs) == {None: 9, "bad_log": 3}
    assert mf.metrics(tallies) == {
        "customers_with_purchases": 4,
        "amount_spent_total": "12.5",
        "reviews": 6,
        "positive_reviews": 2,
        "unknown_locations": {"Atlantis": 2},
    }
    # A source without kept rows has no row for them: its figures are zeros, not an error.
    empty = {PURCHASES: tallies[PURCHASES][1:], MOVIE_REVIEW: [], LOG_REVIEWS: logs[2:]}
    assert mf.metrics(empty) == {
        "customers_with_purchases": 0,
        "amount_spent_total": "0",
        "reviews": 0,
        "positive_reviews": 0,
        "unknown_locations": {},
    }


def test_snapshot_row_count_must_match():
    assert mf.snapshot_problems({"total_rows": 5}, 5) == []
    assert mf.snapshot_problems({"total_rows": 5}, 4) == [
        "user_purchase: snapshot manifest announces 5 rows, the job read 4"
    ]


def test_decimal_text_is_exact():
    assert mf.decimal_text(Decimal("8833773.964000000")) == "8833773.964"
    assert mf.decimal_text(Decimal("10.000000000")) == "10"
    assert mf.decimal_text(Decimal("1E+3")) == "1000"


def test_every_file_source_is_in_the_contract_and_the_arguments():
    args = _args()
    assert [s.name for s in sources.SOURCES] == [PURCHASES, MOVIE_REVIEW, LOG_REVIEWS]
    assert all(s.name in REASONS for s in sources.SOURCES)
    assert [s.uris(args) for s in sources.SOURCES] == [args.purchases, args.movie_reviews, args.log_reviews]


def test_manifest_shape():
    args = _args()
    manifest = mf.build(
        args,
        inputs=sources.manifest_inputs(args, lambda uri: {"read": uri}),
        sources={},
        vendor_dates={
            "2026-11-23": {"layer": "gs://curated/classified/…/_LAYER.json", "generation": 9, "reused": True}
        },
        obt_prefix="gs://curated/obt/build_id=obt-abc/",
        obt_files=["part-0.parquet"],
        obt_partitions={
            "2021-01-01": {"rows": 2, "digest": "00000000000000ff"},
            "2021-01-02": {"rows": 1, "digest": "1"},
        },
        metrics={},
        tagger=None,
        problems=["log_reviews: too many"],
        created_at="2026-11-23T00:00:00+00:00",
    )
    assert (manifest["status"], manifest["reason"], manifest["input_watermark"]) == (
        "failed",
        "log_reviews: too many",
        42,
    )
    # The contract's order and keys: the snapshot manifest, then each source's inputs, each as it was read.
    assert list(manifest) == [
        "build_id",
        "status",
        "reason",
        "input_watermark",
        "inputs",
        "vendor_dates",
        "created_at",
        "obt",
        "sources",
        "metrics",
        "tagger",
    ]
    assert manifest["tagger"] is None
    # The OBT's rows are its partitions' (the load bounds its MERGE by them, so they must cover every row).
    assert (manifest["obt"]["rows"], list(manifest["obt"]["partitions"])) == (3, ["2021-01-01", "2021-01-02"])
    assert manifest["vendor_dates"]["2026-11-23"]["reused"] is True
    assert manifest["inputs"] == {
        "purchases_manifest": {"read": "gs://raw/user_purchase/ingest_date=2026-11-23/run_id=r/_MANIFEST.json#5"},
        "purchases": [{"read": "gs://raw/p0.csv.gz#3"}, {"read": "gs://raw/p1.csv.gz#4"}],
        "movie_reviews": [{"read": "gs://raw/movie_review/ingest_date=2026-11-23/movie_review.csv#6"}],
        "log_reviews": [{"read": "gs://raw/log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz#7"}],
    }
    assert sources.input_uris(args) == (
        args.purchases_manifest,
        *args.purchases,
        *args.movie_reviews,
        *args.log_reviews,
    )
    assert list(manifest["inputs"]) == ["purchases_manifest", "purchases", "movie_reviews", "log_reviews"]


def test_publish_sends_the_contract_bytes_through_the_emulator_rest_api(monkeypatch):
    uri = "gs://curated/obt/build_id=obt-0123456789abcdef0123/_MANIFEST.json"
    message = contract_message.completion_message("obt-0123456789abcdef0123", uri, "failed", "x" * 10_000)
    with pubsub_stub() as (host, published):
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
        message_id = publish.publish(TOPIC, contract_message.encode(message), message.attributes(origin="job"))
    assert message_id == "1"
    [sent] = published
    assert (sent["path"], sent["attributes"]) == (
        f"/v1/{TOPIC}:publish",
        {"build_id": "obt-0123456789abcdef0123", "status": "failed", "origin": "job"},
    )
    assert sent["data"]["manifest_uri"] == uri
    # The contract's limit applies: the reason arrives cut to it, the cut marked.
    assert len(sent["data"]["reason"]) == contract_message.MAX_REASON_CHARS
    assert "truncated" in sent["data"]["reason"]


def test_publish_fails_loudly_when_nobody_listens(monkeypatch):
    monkeypatch.setattr(google_api, "ATTEMPTS", 2)
    monkeypatch.setattr(google_api.time, "sleep", lambda _s: None)
    with pubsub_stub() as (host, _published):
        dead = host
    monkeypatch.setenv("PUBSUB_EMULATOR_HOST", dead)
    with pytest.raises(google_api.ApiError, match=f"publishing to {TOPIC} failed"):
        publish.publish(TOPIC, b'{"build_id": "b"}', {})


REVIEWS_D1 = "gs://raw/movie_review/ingest_date=2026-11-23/movie_review.csv"
LOGS_D1 = "gs://raw/log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz"
REVIEWS_D2 = "gs://raw/movie_review/ingest_date=2026-11-24/movie_review.csv"
LOGS_D2 = "gs://raw/log_reviews/ingest_date=2026-11-24/log_reviews.csv"


def _dates(reviews, logs, tagger=None):
    return vendor_dates.group({MOVIE_REVIEW: reviews, LOG_REVIEWS: logs}, {}, tagger)


def test_vendor_inputs_are_grouped_by_ingest_date_each_with_a_key_of_its_own_files():
    first = _dates([f"{REVIEWS_D2}#3", f"{REVIEWS_D1}#1"], [f"{LOGS_D1}#2", f"{LOGS_D2}#4"])
    assert [(d.day.isoformat(), dict(d.uris)) for d in first] == [
        ("2026-11-23", {MOVIE_REVIEW: (f"{REVIEWS_D1}#1",), LOG_REVIEWS: (f"{LOGS_D1}#2",)}),
        ("2026-11-24", {MOVIE_REVIEW: (f"{REVIEWS_D2}#3",), LOG_REVIEWS: (f"{LOGS_D2}#4",)}),
    ]
    lines = [
        "movie_review/ingest_date=2026-11-23/movie_review.csv#1",
        "log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz#2",
    ]
    assert first[0].key == layout.layer_key(lines, None)
    assert first[0].marker_name == f"classified/ingest_date=2026-11-23/{first[0].key}/_LAYER.json"
    # A re-upload (a new generation) re-keys its own date only; a model or a layer version re-keys every date.
    again = _dates([f"{REVIEWS_D1}#1", f"{REVIEWS_D2}#5"], [f"{LOGS_D1}#2", f"{LOGS_D2}#4"])
    assert (again[0].key, again[1].key != first[1].key) == (first[0].key, True)
    tagged = _dates([f"{REVIEWS_D1}#1"], [f"{LOGS_D1}#2"], "gs://sources/tagger/0123456789abcdef/")
    assert tagged[0].key != first[0].key
    lines_sorted = sorted([*lines, f"layer#{layout.LAYER_VERSION}"])
    digest = hashlib.sha256("".join(f"{line}\n" for line in lines_sorted).encode()).hexdigest()
    assert first[0].key == digest[: layout.LAYER_KEY_HEX_DIGITS]


def test_a_vendor_input_outside_the_raw_layout_is_refused_naming_the_layout():
    with pytest.raises(vendor_dates.VendorNameError, match="must be named movie_review/ingest_date=YYYY-MM-DD/"):
        _dates(["gs://raw/reviews/movie_review.csv#1"], [f"{LOGS_D1}#2"])
    with pytest.raises(vendor_dates.VendorNameError, match="a log_reviews input"):
        _dates([f"{REVIEWS_D1}#1"], [f"{REVIEWS_D2}#2"])
    # A local test file is named by its path, and keyed by its content (it has no generation).
    local = "file:///data/movie_review/ingest_date=2026-11-25/movie_review.csv"
    state = inputs.ObjectState(None, 3, "Nks/tw==")
    assert vendor_dates.ingest_date(MOVIE_REVIEW, local).isoformat() == "2026-11-25"
    assert vendor_dates.key_line(local, state) == f"{local}#crc32c=Nks/tw=="


def test_a_marker_names_its_files_and_only_this_dates_marker_of_this_layer_version_is_read():
    [day] = _dates([f"{REVIEWS_D1}#1"], [f"{LOGS_D1}#2"])
    document = vendor_dates.marker_document(
        day,
        build_id="obt-b",
        folder="classified/build_id=obt-b/attempt=0123456789abcdef/",
        files={MOVIE_REVIEW: ["movie_review/ingest_date=2026-11-23/part-0.parquet"], LOG_REVIEWS: []},
        inputs={"movie_reviews": [{"uri": REVIEWS_D1}], "log_reviews": [{"uri": LOGS_D1}]},
        counts={MOVIE_REVIEW: {"read": 3, "malformed": 1}, LOG_REVIEWS: {"read": 2, "malformed": 0, "bad_log": 1}},
        tagger_model=None,
        created_at="2026-11-23T00:00:00+00:00",
    )
    assert (document["layer_version"], document["layer_key"], document["ingest_date"]) == (
        layout.LAYER_VERSION,
        day.key,
        "2026-11-23",
    )
    read_back = json.loads(json.dumps(document))
    assert vendor_dates.marker_files(day, read_back, "gs://cur") == {
        MOVIE_REVIEW: (
            "gs://cur/classified/build_id=obt-b/attempt=0123456789abcdef/movie_review/ingest_date=2026-11-23/part-0.parquet",
        ),
        LOG_REVIEWS: (),
    }
    for unusable in ({**read_back, "layer_version": 0}, {**read_back, "layer_key": "x"}, {**read_back, "files": 3}, []):
        assert vendor_dates.marker_files(day, unusable, "gs://cur") is None


def test_counts_per_date_add_up_and_a_dates_layer_counts_are_its_own():
    d1, d2 = date(2026, 11, 23), date(2026, 11, 24)
    tally = [
        {"reason": None, "ingest_date": d1, "count": 5, "row_rule_rows": 0},
        {"reason": "malformed", "ingest_date": d1, "count": 1, "row_rule_rows": 0},
        {"reason": "duplicate", "ingest_date": d2, "count": 2, "row_rule_rows": 1},
        {"reason": "bad_log", "ingest_date": d2, "count": 1, "row_rule_rows": 1},
    ]
    by_date = mf.counts_by_date(LOG_REVIEWS, tally, [d2, d1, date(2026, 11, 25)])
    assert list(by_date) == ["2026-11-23", "2026-11-24", "2026-11-25"]
    assert by_date["2026-11-24"] == {
        "read": 3,
        "kept": 0,
        "quarantined": {"malformed": 0, "duplicate": 2, "conflicting_review_id": 0, "bad_log": 1},
    }
    assert by_date["2026-11-25"]["read"] == 0
    assert mf.layer_counts(tally, d2, "bad_log") == {"read": 3, "malformed": 0, "bad_log": 2}
    assert mf.layer_counts(tally, d1, None) == {"read": 6, "malformed": 1}


def test_obt_partitions_give_each_log_dates_rows_and_an_unsigned_hex_digest():
    rows = [
        {"log_date": date(2021, 1, 2), "rows": 3, "digest": -1},
        {"log_date": date(2021, 1, 1), "rows": 2, "digest": 255},
    ]
    assert mf.obt_partitions(rows) == {
        "2021-01-01": {"rows": 2, "digest": "00000000000000ff"},
        "2021-01-02": {"rows": 3, "digest": "ffffffffffffffff"},
    }


def test_the_ingest_date_of_a_vendor_file_or_a_layer_file_is_read_from_its_path():
    mirrored = layout.mirror_name(f"{REVIEWS_D1}#7")  # B/NAME.generations/G/BASENAME: the date still in it
    for path in (REVIEWS_D1, mirrored, "file:///x/ingest_date=2026-01-01/movie_review/ingest_date=2026-11-23/m.csv"):
        assert layout.ingest_date_in_path(path) == date(2026, 11, 23), path
    for path in ("gs://raw/movie_review/movie_review.csv", "/ingest_date=2026-13-01/x", "/ingest_date=2026-11-23x/"):
        assert layout.ingest_date_in_path(path) is None, path
    names = ["ingest_date=2026-11-24/part-1.parquet", "ingest_date=2026-11-23/part-0.parquet", "_SUCCESS"]
    assert layer.files_by_date("gs://c/f/", names) == {
        date(2026, 11, 23): ("gs://c/f/ingest_date=2026-11-23/part-0.parquet",),
        date(2026, 11, 24): ("gs://c/f/ingest_date=2026-11-24/part-1.parquet",),
    }
