"""Pure pieces of the job: arguments, path mapping, sources table, manifest arithmetic, publishing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from obt_job import google_api, publish, sources
from obt_job import manifest as mf
from obt_job.args import parse_args
from obt_job.paths import PathMap

from obt_contract import message as contract_message
from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES, REASONS
from tests.spark_jobs.helpers import TOPIC, job_argv, pubsub_stub


def _args(**overrides):
    argv = job_argv(
        "obt-abc",
        "gs://raw/user_purchase/ingest_date=2026-11-23/run_id=r/_MANIFEST.json#5",
        ["gs://raw/p0.csv.gz#3", "gs://raw/p1.csv.gz#4"],
        ["gs://raw/movie_review/ingest_date=2026-11-23/movie_review.csv#6"],
        ["gs://raw/log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz#7"],
        "gs://curated/",
        **overrides,
    )
    return parse_args(argv)


def test_arguments_follow_the_contract():
    args = _args(max_share=0.25)
    assert args.tagger_model is None
    model = "gs://sources/tagger/0123456789abcdef/"
    assert _args(tagger_model=model).tagger_model == model
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
        obt_prefix="gs://curated/obt/build_id=obt-abc/",
        obt_files=["part-0.parquet"],
        obt_rows=3,
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
        "created_at",
        "obt",
        "sources",
        "metrics",
        "tagger",
    ]
    assert manifest["tagger"] is None
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
