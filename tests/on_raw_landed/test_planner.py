"""The build plan, from listings alone: inputs, id, watermark, arguments and what is missing."""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
from datetime import date

import pytest

from obt.config import ConfigError, Settings
from obt.services import Services
from obt.trigger.planner import ListedObject, build_id_for, decide, plan_build
from obt.trigger.service import current_plan
from obt_contract.layout import LAYER_VERSION, split_pinned_uri
from tests.on_raw_landed.builders import LOGS, MANIFEST, MOVIE, PARTS, SNAPSHOT, RawBucket


def _plan(bucket: RawBucket):
    return plan_build(bucket.listing(), bucket.read_manifest)


def _complete() -> RawBucket:
    bucket = RawBucket()
    bucket.put_snapshot()
    bucket.put(MOVIE)
    bucket.put(LOGS)
    return bucket


def test_build_id_is_sha256_of_sorted_name_generation_lines_and_the_layer_version():
    inputs = [ListedObject("b", 2, 1), ListedObject("a", 10, 1)]
    lines = sorted(["a#10", "b#2", f"layer#{LAYER_VERSION}"])
    expected = "obt-" + hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()[:20]
    assert build_id_for(inputs) == expected == build_id_for(reversed(inputs))
    assert build_id_for([ListedObject("a", 11, 1), ListedObject("b", 2, 1)]) != expected


def test_a_rebuild_is_the_same_inputs_under_an_id_of_its_own_with_one_more_job_argument():
    build = _plan(_complete()).build
    plain = build.job_args("raw", "cur", "projects/p/topics/t", 0.5)
    full = build.rebuilt(None, "2026-12-02T10:00:00+00:00")
    day = build.vendor_dates[0]
    one = build.rebuilt([day], "2026-12-02T10:00:00+00:00")
    # Each asks for what it rebuilds: the job's arguments only grow by it (the ids differ, see below).
    assert full.job_args("raw", "cur", "projects/p/topics/t", 0.5)[2:] == [*plain[2:], "--full-rebuild"]
    assert one.job_args("raw", "cur", "projects/p/topics/t", 0.5)[2:] == [
        *plain[2:],
        "--reclassify-date",
        day.isoformat(),
    ]
    # A new id per request (Dataproc refuses a batch id twice), never the event-driven build's; the same inputs.
    ids = {build.build_id, full.build_id, one.build_id, build.rebuilt(None, "2026-12-02T11:00:00+00:00").build_id}
    assert len(ids) == 4
    assert full.inputs == one.inputs == build.inputs and full.input_watermark == build.input_watermark
    with pytest.raises(ValueError, match="not a vendor date of this build: 1999-01-01"):
        build.rebuilt([date(1999, 1, 1)], "2026-12-02T10:00:00+00:00")


def test_complete_inputs_make_one_build_with_every_input_named():
    bucket = _complete()
    plan = _plan(bucket)
    build = plan.build
    assert build is not None and plan.missing == ()
    assert build.purchases_manifest == bucket.objects[MANIFEST]
    assert [o.name for o in build.purchases] == list(PARTS)
    assert [o.name for o in build.movie_reviews] == [MOVIE]
    assert [o.name for o in build.log_reviews] == [LOGS]
    assert build.vendor_dates == (date(2026, 11, 23),)
    assert build.input_watermark == max(o.generation for o in bucket.listing())
    assert build.build_id == build_id_for(bucket.listing())


def test_job_arguments_follow_the_contract():
    """Every input pinned to the generation the build id hashes, in the form gsutil and gcloud use."""
    bucket = _complete()
    build = _plan(bucket).build
    generation = {name: obj.generation for name, obj in bucket.objects.items()}
    args = build.job_args("raw", "cur", "projects/p/topics/obt-build-complete", 0.5)
    assert args == [
        "--build-id", build.build_id,
        "--input-watermark", str(build.input_watermark),
        "--purchases-manifest", f"gs://raw/{MANIFEST}#{generation[MANIFEST]}",
        "--purchases", f"gs://raw/{PARTS[0]}#{generation[PARTS[0]]}",
        "--purchases", f"gs://raw/{PARTS[1]}#{generation[PARTS[1]]}",
        "--movie-reviews", f"gs://raw/{MOVIE}#{generation[MOVIE]}",
        "--log-reviews", f"gs://raw/{LOGS}#{generation[LOGS]}",
        "--output", "gs://cur",
        "--topic", "projects/p/topics/obt-build-complete",
        "--max-quarantine-share", "0.5",
    ]  # fmt: skip


def test_nothing_yet_names_both_missing_inputs():
    plan = _plan(RawBucket())
    assert plan.build is None
    assert any("user_purchase snapshot" in m for m in plan.missing)
    assert any("vendor date with both" in m for m in plan.missing)


def test_vendor_date_with_one_file_waits_for_the_other():
    bucket = RawBucket()
    bucket.put_snapshot()
    movie = bucket.put(MOVIE)
    plan = _plan(bucket)
    assert plan.build is None
    assert "log_reviews/ingest_date=2026-11-23/log_reviews.csv[.gz]" in plan.missing
    decision = decide(plan, MOVIE, movie.generation)
    assert decision.action == "waiting"
    assert "log_reviews/ingest_date=2026-11-23" in decision.reason


def test_incomplete_vendor_date_does_not_hold_back_complete_ones():
    bucket = _complete()
    lonely = bucket.put("log_reviews/ingest_date=2026-11-24/log_reviews.csv.gz")
    plan = _plan(bucket)
    assert plan.build is not None and plan.build.vendor_dates == (date(2026, 11, 23),)
    assert decide(plan, lonely.name, lonely.generation).action == "waiting"
    assert "movie_review/ingest_date=2026-11-24/movie_review.csv[.gz]" in plan.missing


def test_zero_byte_vendor_file_counts_as_absent():
    bucket = RawBucket()
    bucket.put_snapshot()
    bucket.put(MOVIE)
    bucket.put(LOGS, size=0)
    assert _plan(bucket).build is None


def test_snapshot_without_all_parts_is_corrupt_and_waits():
    """Parts are committed before their manifest: a missing one was deleted after the snapshot was announced."""
    bucket = RawBucket()
    bucket.put(PARTS[0])
    manifest = bucket.put_manifest(SNAPSHOT, PARTS)
    bucket.put(MOVIE)
    bucket.put(LOGS)
    plan = _plan(bucket)
    assert plan.build is None
    decision = decide(plan, MANIFEST, manifest.generation)
    assert decision.action == "waiting"
    assert f"{PARTS[1]} missing" in decision.reason


def test_part_with_another_size_than_the_manifest_says_is_corrupt():
    bucket = RawBucket()
    bucket.put_snapshot(part_size=100)
    bucket.put(PARTS[1], size=99)
    bucket.put(MOVIE)
    bucket.put(LOGS)
    plan = _plan(bucket)
    assert plan.build is None
    assert "has 99 bytes, manifest says 100" in plan.excluded[MANIFEST].reason


def test_newest_complete_snapshot_wins_and_older_ones_are_superseded():
    bucket = _complete()
    newer_prefix = "user_purchase/ingest_date=2026-11-24/run_id=r2"
    newer = bucket.put_snapshot(newer_prefix, parts=1)
    plan = _plan(bucket)
    assert plan.build.purchases_manifest == newer
    assert [o.name for o in plan.build.purchases] == [f"{newer_prefix}/part-00000.csv.gz"]
    old = bucket.objects[MANIFEST]
    decision = decide(plan, MANIFEST, old.generation)
    assert decision.action == "ignored" and "superseded by the newer snapshot" in decision.reason


def test_rerun_on_the_same_date_wins_by_generation():
    bucket = _complete()
    rerun = bucket.put_snapshot("user_purchase/ingest_date=2026-11-23/run_id=r0", parts=1)
    assert _plan(bucket).build.purchases_manifest == rerun


def test_broken_newest_snapshot_blocks_instead_of_falling_back_to_the_previous_one(caplog):
    bucket = _complete()
    broken_prefix = "user_purchase/ingest_date=2026-11-24/run_id=r2"
    broken = bucket.put(f"{broken_prefix}/_MANIFEST.json", 10, {"kind": "snapshot", "table": "user_purchase"})
    with caplog.at_level(logging.ERROR):
        plan = _plan(bucket)
    assert plan.build is None
    decision = decide(plan, broken.name, broken.generation)
    assert decision.action == "waiting" and "manifest lists no parts" in decision.reason
    assert any(broken.name in m for m in decision.missing)
    assert decide(plan, MANIFEST, bucket.objects[MANIFEST].generation).action == "ignored"
    assert decide(plan, MOVIE, bucket.objects[MOVIE].generation).action == "waiting"
    assert [r.fields["manifest"] for r in caplog.records if r.levelno == logging.ERROR] == [broken.name]


NEWER = "user_purchase/ingest_date=2026-11-24/run_id=scheduled"
ATTEMPT = "0123456789abcdef"


def _pinned_snapshot(bucket: RawBucket, prefix: str = NEWER, attempt: str = ATTEMPT) -> ListedObject:
    """A snapshot as the extract writes it: attempt-named parts, each pinned by generation, size and crc32c."""
    parts = []
    for index in range(2):
        obj = bucket.put(f"{prefix}/part-{attempt}-{index:05d}.csv.gz", 100 + index)
        obj = bucket.objects[obj.name] = dataclasses.replace(obj, crc32c=f"crc{index}==")
        parts.append(
            {"name": obj.name, "generation": obj.generation, "rows": 10, "bytes": obj.size, "crc32c": obj.crc32c}
        )
    document = {"kind": "snapshot", "table": "user_purchase", "parts": parts, "total_rows": 20}
    return bucket.put(f"{prefix}/_MANIFEST.json", 500, document)


def test_pinned_snapshot_is_used_with_exactly_its_parts():
    bucket = _complete()
    newer = _pinned_snapshot(bucket)
    plan = _plan(bucket)
    assert plan.build.purchases_manifest == newer
    assert [o.name for o in plan.build.purchases] == [f"{NEWER}/part-{ATTEMPT}-0000{i}.csv.gz" for i in range(2)]


def test_parts_of_an_attempt_that_never_committed_are_ignored():
    bucket = _complete()
    crashed = [bucket.put(f"{NEWER}/part-fedcba9876543210-0000{i}.csv.gz", 999) for i in range(3)]
    newer = _pinned_snapshot(bucket)
    plan = _plan(bucket)
    assert plan.build.purchases_manifest == newer
    assert not set(crashed) & set(plan.build.purchases)
    assert all(decide(plan, o.name, o.generation).action == "ignored" for o in crashed)


@pytest.mark.parametrize(
    ("damage", "differs"),
    [
        # An UPDATE between two exports: same size, but not the bytes the manifest announced.
        (lambda obj: dataclasses.replace(obj, generation=obj.generation + 10**9), "generation"),
        (lambda obj: dataclasses.replace(obj, generation=obj.generation + 10**9, size=obj.size + 50), "150 bytes"),
        # A store that reuses a generation for other bytes: only the checksum tells.
        (lambda obj: dataclasses.replace(obj, crc32c="other=="), "crc32c other==, manifest says crc0=="),
    ],
)
def test_part_changed_after_the_manifest_is_corrupt_and_no_older_snapshot_replaces_it(caplog, damage, differs):
    bucket = _complete()
    newer = _pinned_snapshot(bucket)
    part = f"{NEWER}/part-{ATTEMPT}-00000.csv.gz"
    bucket.objects[part] = damage(bucket.objects[part])
    with caplog.at_level(logging.ERROR):
        plan = _plan(bucket)
    assert plan.build is None  # not the complete 2026-11-23 snapshot instead
    decision = decide(plan, newer.name, newer.generation)
    assert decision.action == "waiting" and decision.reason.startswith("snapshot corrupt: ")
    assert f"{part} has " in decision.reason and differs in decision.reason
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.fields["manifest"] == newer.name and part in error.fields["problem"]


def test_a_newer_consistent_snapshot_supersedes_a_corrupt_one():
    bucket = _complete()
    corrupt = _pinned_snapshot(bucket)
    bucket.put(f"{NEWER}/part-{ATTEMPT}-00001.csv.gz", 101)  # overwritten: new generation
    rerun = _pinned_snapshot(bucket, "user_purchase/ingest_date=2026-11-24/run_id=again", "00000000000000aa")
    plan = _plan(bucket)
    assert plan.build.purchases_manifest == rerun
    assert "superseded by the newer snapshot" in decide(plan, corrupt.name, corrupt.generation).reason


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (ValueError("not JSON: boom"), "not JSON: boom"),
        ([1, 2], "not a JSON object"),
        ({"kind": "snapshot", "table": "other", "parts": [{"name": "x"}]}, "not snapshot/user_purchase"),
        ({"kind": "snapshot", "table": "user_purchase", "parts": [{"name": "elsewhere/part-00000.csv.gz"}]}, "is not"),
        ({"kind": "snapshot", "table": "user_purchase", "parts": [{"name": PARTS[0], "bytes": "9"}]}, "non-integer"),
    ],
)
def test_unusable_manifest_is_skipped_with_its_reason(document, reason):
    bucket = RawBucket()
    bucket.put(PARTS[0])
    manifest = bucket.put(MANIFEST, 10, document)
    plan = _plan(bucket)
    assert plan.build is None
    assert reason in plan.excluded[manifest.name].reason


def test_vanished_manifest_is_skipped():
    bucket = _complete()
    bucket.documents.clear()
    plan = _plan(bucket)
    assert plan.build is None and "vanished" in plan.excluded[MANIFEST].reason


def test_several_vendor_dates_and_files_are_all_inputs_in_order():
    bucket = RawBucket()
    bucket.put_snapshot()
    names = [
        "movie_review/ingest_date=2026-11-24/movie_review.csv.gz",
        "log_reviews/ingest_date=2026-11-24/log_reviews.csv.gz",
        MOVIE,
        LOGS,
    ]
    for name in names:
        bucket.put(name)
    build = _plan(bucket).build
    assert build.vendor_dates == (date(2026, 11, 23), date(2026, 11, 24))
    assert [o.name for o in build.movie_reviews] == [MOVIE, names[0]]
    assert [o.name for o in build.log_reviews] == [LOGS, names[1]]


def test_unrelated_and_unparsable_objects_do_not_change_the_build():
    bucket = _complete()
    before = _plan(bucket).build.build_id
    bucket.put("movie_review/README.txt")
    bucket.put("movie_review/ingest_date=2026-13-45/movie_review.csv")
    bucket.put("user_purchase/ingest_date=2026-11-23/run_id=r1/notes.txt")
    plan = _plan(bucket)
    assert plan.build.build_id == before
    assert "unparsable object name" in plan.excluded["movie_review/ingest_date=2026-13-45/movie_review.csv"].reason


def test_event_for_an_older_or_newer_generation_than_listed():
    bucket = _complete()
    plan = _plan(bucket)
    current = bucket.objects[MOVIE].generation
    assert decide(plan, MOVIE, current - 100).action == "ignored"
    assert "superseded by generation" in decide(plan, MOVIE, current - 100).reason
    with pytest.raises(LookupError):
        decide(plan, MOVIE, current + 1)
    assert decide(plan, "movie_review/ingest_date=2026-11-25/movie_review.csv", 5).reason == "object no longer exists"


MODEL = "gs://obt-sources/tagger/0123456789abcdef/"
NEWER_MODEL = "gs://obt-sources/tagger/fedcba9876543210/"


def test_the_tagger_model_is_one_more_line_of_the_build_id():
    """The same inputs and model, the same build; a new model, a new build; no model, the id builds had before."""
    bucket = _complete()
    plain = _plan(bucket).build
    tagged = plan_build(bucket.listing(), bucket.read_manifest, MODEL).build
    assert plain.build_id == build_id_for(bucket.listing()) and plain.tagger_model == ""
    assert tagged.build_id == plan_build(bucket.listing(), bucket.read_manifest, MODEL).build.build_id
    newer = plan_build(bucket.listing(), bucket.read_manifest, NEWER_MODEL).build
    assert len({plain.build_id, tagged.build_id, newer.build_id}) == 3
    lines = sorted(
        [f"{obj.name}#{obj.generation}" for obj in bucket.listing()] + [f"tagger#{MODEL}", f"layer#{LAYER_VERSION}"]
    )
    assert tagged.build_id == "obt-" + hashlib.sha256("".join(f"{line}\n" for line in lines).encode()).hexdigest()[:20]
    # Builds are ordered by their inputs alone: a new model over the same inputs loads (equal watermarks do).
    assert tagged.input_watermark == plain.input_watermark


def test_the_tagger_model_is_passed_to_the_job_only_when_set():
    bucket = _complete()
    plain = _plan(bucket).build.job_args("raw", "cur", "projects/p/topics/t", 0.5)
    tagged = plan_build(bucket.listing(), bucket.read_manifest, MODEL).build.job_args(
        "raw", "cur", "projects/p/topics/t", 0.5
    )
    assert "--tagger-model" not in plain
    assert tagged[-2:] == ["--tagger-model", MODEL] and tagged[2:-2] == plain[2:]


def test_the_trigger_plans_with_the_tagger_model_of_its_settings():
    bucket = _complete()
    settings = Settings.from_env({"OBT_TAGGER_MODEL_URI": MODEL})
    plan = current_plan(settings, dataclasses.replace(Services.from_settings(settings), objects=bucket))
    assert plan.build.tagger_model == MODEL
    assert plan.build.build_id == build_id_for(bucket.listing(), MODEL)


def test_the_tagger_model_setting_is_empty_or_a_uri():
    assert Settings.from_env({}).tagger_model_uri == ""
    assert Settings.from_env({"OBT_TAGGER_MODEL_URI": f" {MODEL} "}).tagger_model_uri == MODEL
    with pytest.raises(ConfigError, match="OBT_TAGGER_MODEL_URI must be a gs:// or file:// URI"):
        Settings.from_env({"OBT_TAGGER_MODEL_URI": ".obt/tagger/0123456789abcdef"})


ARRIVALS = (*PARTS, MANIFEST, MOVIE, LOGS)


@pytest.mark.parametrize("order", [p for p in itertools.permutations(ARRIVALS) if p.index(PARTS[0]) < p.index(MANIFEST)
                                   and p.index(PARTS[1]) < p.index(MANIFEST)])  # fmt: skip
def test_any_arrival_order_submits_exactly_one_build_once_all_inputs_are_present(order):
    """Vendor files before or after the purchase manifest: one complete build, from the last trigger."""
    from tests.on_raw_landed.builders import manifest_document

    bucket = RawBucket()
    submitted = []
    for name in order:
        document = manifest_document(SNAPSHOT, PARTS) if name == MANIFEST else None
        obj = bucket.put(name, document=document)
        if name in PARTS:
            continue  # parts never trigger (on_raw_landed ignores them before planning)
        decision = decide(_plan(bucket), name, obj.generation)
        if decision.action == "submit":
            submitted.append(_plan(bucket).build.build_id)
    assert submitted == [build_id_for(bucket.listing())]


def test_job_arguments_parse_with_the_spark_jobs_own_parser(monkeypatch):
    """The contract from both sides: what on_raw_landed sends is what spark_jobs/build_obt.py accepts."""
    import importlib.util
    import sys
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "spark_jobs" / "obt_job" / "args.py"
    spec = importlib.util.spec_from_file_location("obt_job_args_contract", source)
    job_args = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, job_args)  # dataclasses look their module up while executing
    spec.loader.exec_module(job_args)

    bucket = _complete()
    build = _plan(bucket).build
    parsed = job_args.parse_args(build.job_args("raw", "cur", "projects/p/topics/obt-build-complete", 0.25))
    assert parsed.build_id == build.build_id and parsed.input_watermark == build.input_watermark
    # The job reads exactly the (name, generation) pairs the build id hashes.
    pinned = [parsed.purchases_manifest, *parsed.purchases, *parsed.movie_reviews, *parsed.log_reviews]
    read = sorted((name, generation) for _, name, generation in map(split_pinned_uri, pinned))
    assert read == sorted((obj.name, obj.generation) for obj in bucket.listing())
    assert build_id_for(ListedObject(name, generation, 1) for name, generation in read) == build.build_id
    assert (parsed.output, parsed.topic, parsed.max_quarantine_share, parsed.tagger_model, parsed.full_rebuild) == (
        "gs://cur",
        "projects/p/topics/obt-build-complete",
        0.25,
        None,
        False,
    )
    assert job_args.parse_args(
        build.rebuilt(None, "now").job_args("raw", "cur", "projects/p/topics/t", 0.25)
    ).full_rebuild
    day = build.vendor_dates[0]
    one = job_args.parse_args(build.rebuilt([day], "now").job_args("raw", "cur", "projects/p/topics/t", 0.25))
    assert (one.full_rebuild, one.reclassify_dates) == (False, (day,))
    tagged = plan_build(bucket.listing(), bucket.read_manifest, MODEL).build
    assert job_args.parse_args(tagged.job_args("raw", "cur", "projects/p/topics/t", 0.25)).tagger_model == MODEL
