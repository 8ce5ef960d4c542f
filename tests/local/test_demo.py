"""``obt demo`` without a local cloud: inputs and arguments checked before anything starts, a failed build's
summary, the heartbeat without a terminal, the run id that names the purchase snapshot after the seeded rows, and
the review tagger's model cache (training replaced by a stand-in that writes a card)."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import os
from pathlib import Path
from typing import Any

import pyspark
import pytest

from obt.errors import UserError
from obt_tools import demo
from obt_tools.cli import demo as demo_cli
from obt_tools.cli import main
from obt_tools.local import stack
from obt_tools.tagger import card
from obt_tools.tagger.labels import read_labels

GOOD = {
    "user_purchase.csv": "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n",
    "movie_review.csv": 'cid,review_str,id_review\n13799,"a good, long film",1\n',
    "log_reviews.csv": "id_review,log\n1,<reviewlog><log><logDate>04-25-2021</logDate></log></reviewlog>\n",
}


LABELS = "review,sentiment\nA fine film.,positive\nA dull film.,negative\n"


@pytest.fixture(autouse=True)
def no_default_labels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The default labels file is absent (the real one next to the repository would make every demo here train)."""
    missing = tmp_path / "no-default-labels.csv.gz"
    monkeypatch.setattr(demo, "DEFAULT_TAGGER_LABELS", missing)
    return missing


@pytest.fixture
def trainings(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """``demo.train_tagger`` replaced: writes a model folder whose card is what ``obt tagger train`` would say about
    the file, this code and this Spark; returns the labels files it trained on."""
    trained: list[Path] = []

    def train(labels: Path, out: Path, log_path: Path) -> None:
        trained.append(labels)
        data = read_labels(labels)
        made_from = (data.sha256, card.code_sha256(), pyspark.__version__)
        version = hashlib.sha256(repr(made_from).encode()).hexdigest()[:16]
        (out / "metadata").mkdir(parents=True)
        (out / card.CARD_NAME).write_text(
            json.dumps(
                {
                    "model_version": version,
                    "spark_version": made_from[2],
                    "training_data": {"sha256": made_from[0]},
                    "training_code_sha256": made_from[1],
                    "cross_validation": {"model": {"mean": {"accuracy": 0.871}}},
                    "rule": {"all_rows": {"accuracy": 0.478}},
                }
            )
        )
        log_path.write_text("trained\n")

    monkeypatch.setattr(demo, "train_tagger", train)
    return trained


def write_inputs(folder: Path, **replaced: bytes | None) -> Path:
    """The three inputs, each as GOOD has it unless ``replaced`` (file name -> bytes, or None: absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in GOOD.items():
        if name not in replaced:
            (folder / name).write_text(text)
    for name, data in replaced.items():
        if data is not None:
            (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def no_cloud(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Fails the test if the local cloud would start; returns the state folders it was asked to start."""
    starts: list[Path] = []

    def up(state_dir: Path, **_: Any) -> dict:
        starts.append(state_dir)
        raise UserError("the local cloud would start now")

    monkeypatch.setattr(stack, "up", up)
    return starts


def run_demo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, list[str]]:
    code = main(["demo", *args])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, [line for line in err.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("replaced", "expected"),
    [
        ({"log_reviews.csv": b""}, "log_reviews.csv is empty"),
        ({"movie_review.csv": bytes(range(256)) * 40}, "movie_review.csv is not UTF-8 text"),
        ({"movie_review.csv": b"cid,review,id_review\n1,x,2\n"}, "movie_review.csv must start with the header cid,"),
        ({"log_reviews.csv": b"id_review,log\n"}, "log_reviews.csv has a header but no rows"),
        (
            {"user_purchase.csv": None, "user_purchase.csv.gz": b"not gzip at all"},
            "user_purchase.csv.gz cannot be decompressed",
        ),
        ({"movie_review.csv": None}, "has no movie_review.csv, .csv.gz or .csv.xz"),
    ],
)
def test_bad_inputs_are_one_line_before_the_local_cloud_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cloud: list[Path], replaced: dict, expected: str
) -> None:
    data = write_inputs(tmp_path / "data", **replaced)
    code, out, err = run_demo(capsys, "--data-dir", str(data), "--state-dir", str(tmp_path / "state"))
    assert code == 2
    assert len(err) == 1 and err[0].startswith("obt demo: error: ") and expected in err[0], err
    assert out == ""
    assert no_cloud == []


def test_every_bad_input_is_named_in_the_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cloud: list[Path]
) -> None:
    data = write_inputs(tmp_path / "data", **{"log_reviews.csv": b"", "movie_review.csv": b"\xff\xfe\x00binary"})
    code, _, err = run_demo(capsys, "--data-dir", str(data), "--state-dir", str(tmp_path / "state"))
    assert code == 2 and len(err) == 1
    assert "movie_review.csv is not UTF-8 text" in err[0] and "log_reviews.csv is empty" in err[0]
    assert no_cloud == []


def test_a_missing_folder_is_one_line_before_the_local_cloud_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cloud: list[Path]
) -> None:
    code, _, err = run_demo(capsys, "--data-dir", str(tmp_path / "nonexistent"), "--state-dir", str(tmp_path / "s"))
    assert code == 2 and err == [f"obt demo: error: --data-dir {tmp_path / 'nonexistent'} is not a folder"]
    assert no_cloud == []


def test_good_inputs_compressed_or_not_pass_the_check_and_the_cloud_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cloud: list[Path]
) -> None:
    data = write_inputs(
        tmp_path / "data",
        **{
            "user_purchase.csv": None,
            "user_purchase.csv.gz": gzip.compress(GOOD["user_purchase.csv"].encode()),
            "movie_review.csv": None,
            "movie_review.csv.xz": lzma.compress(b"\xef\xbb\xbf" + GOOD["movie_review.csv"].encode()),
        },
    )
    code, _, err = run_demo(capsys, "--data-dir", str(data), "--state-dir", str(tmp_path / "state"))
    assert code == 2 and err == ["obt demo: error: the local cloud would start now"]
    assert no_cloud == [(tmp_path / "state").absolute()]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scale", "500"], "--scale must be greater than 0 and at most 100, got '500'"),
        (["--scale", "lots"], "--scale must be a number like 1 or 0.01, got 'lots'"),
        (["--ingest-date", "2026-02-30"], "--ingest-date must be a real date YYYY-MM-DD, got '2026-02-30'"),
        (["--seed", "x"], "--seed must be an integer, got 'x'"),
    ],
)
def test_argument_errors_are_one_line_worded_as_generate_words_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cloud: list[Path], args: list[str], message: str
) -> None:
    code, out, err = run_demo(capsys, "--state-dir", str(tmp_path), *args)
    assert (code, out, err) == (2, "", [f"obt demo: error: {message}"])
    assert no_cloud == []
    if args[0] == "--scale":
        main(["generate", "--out", str(tmp_path / "gen"), "--scale", args[1]])
        assert capsys.readouterr().err.strip() == f"obt generate: error: {message}"


def _failed_quality_build(monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain whose every step is faked and whose build fails its data-quality verdict."""
    manifest = {
        "build_id": "obt-0123456789abcdef0123",
        "status": "failed",
        "reason": "movie_review: 100 of 100 rows quarantined (100.0%), above 50.0%",
        "obt": {"rows": 0, "files": []},
        "sources": {
            "user_purchase": {"read": 1, "kept": 1, "quarantined": {}},
            "movie_review": {"read": 100, "kept": 0, "quarantined": {"malformed_record": 100}},
        },
    }

    def wait_for_load(session: demo.DemoSession, build_id: str) -> demo.LoadOutcome:
        spark = demo.Stage(demo.SPARK_STAGE, started=1.0, finished=2.0, detail="status failed, 0 OBT rows")
        session.stages.append(spark)
        ledger = {"outcome": "skipped", "reason": "build failed: " + manifest["reason"]}
        return demo.LoadOutcome(build_id, {"state": "SUCCEEDED"}, manifest, ledger, 0.0, 1.0, 1.0, 2.0)

    def noop(*_: Any) -> None:
        return None

    for name in ("start", "stop", "seed_postgres", "extract", "upload_vendor"):
        monkeypatch.setattr(demo.DemoSession, name, noop)
    monkeypatch.setattr(
        demo.DemoSession, "expected_build", lambda _: type("Plan", (), {"build_id": manifest["build_id"]})
    )
    monkeypatch.setattr(demo.DemoSession, "wait_for_load", wait_for_load)


def test_a_failed_build_prints_its_stages_and_rows_per_source_and_names_the_cause(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _failed_quality_build(monkeypatch)
    data = write_inputs(tmp_path / "data")
    code, out, err = run_demo(capsys, "--data-dir", str(data), "--state-dir", str(tmp_path / "state"))
    assert code == 2
    assert err == [
        "obt demo: error: build obt-0123456789abcdef0123 failed: "
        "movie_review: 100 of 100 rows quarantined (100.0%), above 50.0%"
    ]
    assert "stages" in out and "rows per source" in out
    spark_row = next(line for line in out.splitlines() if line.lstrip().startswith("Spark job"))
    assert "failed" in spark_row
    assert "malformed_record 100" in out


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# The end of a real driver log: log4j lines (task lines end in a space), the job's JSON log lines.
DRIVER_LOG = "\n".join(
    [
        "26/12/02 07:31:17 INFO DAGScheduler: Submitting ShuffleMapStage 0 (MapPartitionsRDD[9] at collect)",
        '{"severity": "INFO", "message": "build started", "logger": "obt_job", "build_id": "obt-x"}',
        "26/12/02 07:31:19 INFO TaskSetManager: Starting task 0.0 in stage 2.0 (TID 2) "
        "(localhost,executor driver, partition 0, PROCESS_LOCAL, 10307 bytes) ",
        '{"severity": "INFO", "message": "sources classified", "logger": "obt_job", "build_id": "obt-x"}',
        "26/12/02 07:31:23 INFO TaskSetManager: Finished task 3.0 in stage 4.0 (TID 3) in 2647 ms "
        "on localhost (executor driver) (5/8)",
        "26/12/02 07:31:23 INFO DAGScheduler: ResultStage 4 (collectToPython at Native.java:0) finished in 2825 ms",
    ]
)


def test_without_a_terminal_a_heartbeat_comes_while_the_spark_job_runs(tmp_path: Path) -> None:
    driver_log = tmp_path / "driver.log"
    driver_log.write_text(DRIVER_LOG)
    clock = FakeClock(100.0)
    lines: list[str] = []
    report = demo_cli.PlainReport(lines.append, interval=15.0, clock=clock)
    session = demo.DemoSession(tmp_path)
    routing = demo.Stage("event → batch submitted", started=95.0, finished=100.0, detail="batch obt-x")
    spark = demo.Stage(demo.SPARK_STAGE, started=100.0, detail="RUNNING")
    session.stages += [routing, spark]
    session.batch = {"state": "RUNNING", "state_message": "", "driver_log": str(driver_log)}

    def at(now: float) -> list[str]:
        clock.now = now
        before = len(lines)
        report(session)
        return lines[before:]

    assert at(100.0) == ["[   5.0 s] event → batch submitted: batch obt-x"]
    assert at(114.9) == []
    assert at(115.0) == [
        f"[  15.0 s] {demo.SPARK_STAGE}: still running, batch RUNNING, driver log {driver_log}, "
        "job step 'sources classified', Spark stage 4: 5/8 tasks done"
    ]
    assert at(129.0) == []
    driver_log.write_text(DRIVER_LOG.replace("(5/8)", "(8/8)"))
    assert at(130.0) == [
        f"[  30.0 s] {demo.SPARK_STAGE}: still running, batch RUNNING, driver log {driver_log}, "
        "job step 'sources classified', Spark stage 4: 8/8 tasks done"
    ]
    spark.finished, spark.detail = 131.0, "status succeeded, 12 OBT rows"
    assert at(131.0) == ["[  31.0 s] Spark job (local Dataproc): status succeeded, 12 OBT rows"]
    assert at(200.0) == [], "nothing runs, so nothing to beat for"


def test_a_heartbeat_before_the_driver_logs_anything_says_what_is_waited_on(tmp_path: Path) -> None:
    session = demo.DemoSession(tmp_path)
    session.stages.append(demo.Stage("event → batch submitted", started=10.0))
    assert session.heartbeat(26.0) == "[  16.0 s] event → batch submitted: still running"
    session.stages.append(demo.Stage(demo.SPARK_STAGE, started=26.0))
    session.batch = {"state": "PENDING", "state_message": "", "driver_log": str(tmp_path / "not-yet.log")}
    session.stages[0].finished = 26.0
    assert session.heartbeat(41.0) == (
        f"[  15.0 s] {demo.SPARK_STAGE}: still running, batch PENDING, driver log {tmp_path / 'not-yet.log'}"
    )


def test_a_heartbeat_while_the_tagger_trains_names_its_log(tmp_path: Path) -> None:
    session = demo.DemoSession(tmp_path)
    session.stages.append(demo.Stage(demo.TAGGER_STAGE, started=10.0))
    assert session.heartbeat(70.0) == (
        f"[  60.0 s] {demo.TAGGER_STAGE}: still running, log {tmp_path / 'tagger' / 'train.log'}"
    )


A = "a" * 64


@pytest.mark.parametrize(
    ("snapshots", "expected"),
    [
        ([], "seed-aaaaaaaaaaaaaaaa"),
        ([("seed-aaaaaaaaaaaaaaaa", 5)], "seed-aaaaaaaaaaaaaaaa"),  # same rows again: reuse
        ([("scheduled", 5)], "seed-aaaaaaaaaaaaaaaa"),  # other rows before: a new snapshot
        ([("seed-aaaaaaaaaaaaaaaa", 5), ("seed-bbbbbbbbbbbbbbbb", 7)], "seed-aaaaaaaaaaaaaaaa-2"),  # A, B, A again
        (
            [("seed-aaaaaaaaaaaaaaaa", 5), ("seed-bbbbbbbbbbbbbbbb", 7), ("seed-aaaaaaaaaaaaaaaa-2", 9)],
            "seed-aaaaaaaaaaaaaaaa-2",
        ),
        (
            [("seed-aaaaaaaaaaaaaaaa", 5), ("seed-aaaaaaaaaaaaaaaa-2", 6), ("seed-bbbbbbbbbbbbbbbb", 7)],
            "seed-aaaaaaaaaaaaaaaa-3",
        ),
    ],
)
def test_the_snapshot_run_id_reuses_only_the_newest_snapshot_of_the_same_rows(
    snapshots: list[tuple[str, int]], expected: str
) -> None:
    assert demo.snapshot_run_id(A, snapshots) == expected


def test_the_tagger_trains_once_per_labels_file_and_training_code(
    tmp_path: Path, trainings: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "state" / "tagger"
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    first = demo.tagger_model(cache, read_labels(labels))
    assert first.trained and first.path == cache / first.version
    assert first.uri == f"file://{cache}/{first.version}/"
    assert first.describe() == f"model {first.version} (trained): accuracy 0.871 cross-validated, rule 'good' 0.478"
    again = demo.tagger_model(cache, read_labels(labels))
    assert (again.trained, again.path) == (False, first.path)
    assert trainings == [labels]
    assert [p.name for p in cache.iterdir() if p.is_dir()] == [first.version], "no partial training folder is left"

    labels.write_text(LABELS + "Good.,positive\n")
    other_labels = demo.tagger_model(cache, read_labels(labels))
    assert other_labels.trained and other_labels.version != first.version
    monkeypatch.setattr(card, "code_sha256", lambda: "new training code")
    other_code = demo.tagger_model(cache, read_labels(labels))
    assert other_code.trained and other_code.version not in (first.version, other_labels.version)
    assert len(trainings) == 3


def test_a_failed_training_is_one_line_naming_its_log_and_leaves_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    argv: list[str] = []
    real_run = demo.subprocess.run

    def run(args: list[str], **kwargs: Any) -> Any:
        """A stand-in for ``obt tagger train`` that fails as it does: its last line is the error."""
        argv.extend(args)
        return real_run(["sh", "-c", "echo noise; echo 'obt tagger: error: no Java' >&2; exit 2"], **kwargs)

    monkeypatch.setattr(demo.subprocess, "run", run)
    cache = tmp_path / "tagger"
    with pytest.raises(UserError) as raised:
        demo.tagger_model(cache, read_labels(labels))
    assert str(raised.value) == (
        f"training the review tagger failed: obt tagger: error: no Java (log {cache / demo.TAGGER_LOG})"
    )
    assert argv[1:] == ["-m", "obt_tools", "tagger", "train", "--labels", str(labels), "--out", argv[-1]]
    assert Path(argv[-1]).parent == cache
    assert [p.name for p in cache.iterdir()] == [demo.TAGGER_LOG]


@pytest.mark.parametrize(
    ("args", "detail"),
    [
        ([], "off (no labelled reviews at {default}; --tagger-labels FILE to give some)"),
        (["--no-tagger"], "off (--no-tagger)"),
    ],
)
def test_without_labels_the_demo_says_so_in_one_line_and_runs_untagged(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_cloud: list[Path],
    trainings: list[Path],
    no_default_labels: Path,
    args: list[str],
    detail: str,
) -> None:
    data = write_inputs(tmp_path / "data")
    code, out, err = run_demo(capsys, "--data-dir", str(data), "--state-dir", str(tmp_path / "state"), *args)
    assert code == 2 and err == ["obt demo: error: the local cloud would start now"]
    expected = detail.format(default=no_default_labels)
    assert [line for line in out.splitlines() if demo.TAGGER_STAGE in line] == [
        f"[   0.0 s] {demo.TAGGER_STAGE}: {expected}: predicted_positive, sentiment_score stay NULL"
    ]
    assert trainings == []


def test_the_local_cloud_starts_with_the_cached_model_of_the_labels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trainings: list[Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    models: list[str] = []

    def up(state_dir: Path, **_: Any) -> dict:
        models.append(os.environ[stack.TAGGER_MODEL_ENV])
        raise UserError("the local cloud would start now")

    monkeypatch.setattr(stack, "up", up)
    monkeypatch.setenv(stack.TAGGER_MODEL_ENV, "")
    data, state = write_inputs(tmp_path / "data"), (tmp_path / "state").absolute()
    labels = tmp_path / "labels.csv"
    labels.write_text(LABELS)
    for _ in range(2):
        code, out, _ = run_demo(
            capsys, "--data-dir", str(data), "--state-dir", str(state), "--tagger-labels", str(labels)
        )
        assert code == 2
    assert trainings == [labels], "trained once, then cached"
    [version] = [p.name for p in (state / demo.TAGGER_FOLDER).iterdir() if p.is_dir()]
    assert models == [f"file://{state}/tagger/{version}/"] * 2
    [stage_line] = [line for line in out.splitlines() if demo.TAGGER_STAGE in line]
    assert f"model {version} (cached): accuracy 0.871 cross-validated, rule 'good' 0.478" in stage_line


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (b"text,label\nx,positive\n", "review, sentiment"),
        (b"review,sentiment\nA film.,great\n", "line 2: sentiment 'great' is not 'positive' or 'negative'"),
        (None, "does not exist"),
    ],
)
def test_a_bad_labels_file_is_one_line_before_training_or_the_local_cloud(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    no_cloud: list[Path],
    trainings: list[Path],
    labels: bytes | None,
    expected: str,
) -> None:
    path = tmp_path / "labels.csv"
    if labels is not None:
        path.write_bytes(labels)
    data = write_inputs(tmp_path / "data")
    code, out, err = run_demo(
        capsys, "--data-dir", str(data), "--state-dir", str(tmp_path / "s"), "--tagger-labels", str(path)
    )
    assert code == 2 and len(err) == 1 and err[0].startswith("obt demo: error: ") and expected in err[0], err
    assert str(path) in err[0]
    assert (out, no_cloud, trainings) == ("", [], [])


def test_no_tagger_and_tagger_labels_exclude_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], no_cloud: list[Path]
) -> None:
    code, out, err = run_demo(capsys, "--state-dir", str(tmp_path), "--no-tagger", "--tagger-labels", "x.csv")
    assert (code, out, err) == (2, "", ["obt demo: error: --no-tagger and --tagger-labels exclude each other"])


def test_a_cloud_left_running_with_another_model_is_restarted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    running = {stack.TAGGER_MODEL_ENV: "file:///old/tagger/aaaa/"}
    monkeypatch.setattr(stack, "running", lambda _: True)
    monkeypatch.setattr(stack, "stack_env", lambda _: dict(running))
    monkeypatch.setattr(stack, "down", lambda _: calls.append("down"))

    def up(state_dir: Path, **_: Any) -> dict:
        calls.append(f"up with {os.environ[stack.TAGGER_MODEL_ENV]}")
        running[stack.TAGGER_MODEL_ENV] = os.environ[stack.TAGGER_MODEL_ENV]
        return {}

    monkeypatch.setattr(stack, "up", up)
    with demo.restored_environment():
        session = demo.DemoSession(tmp_path, tagger_model_uri="file:///new/tagger/bbbb/")
        session.start()
        session.start()  # the same model: left running
        assert session.settings.tagger_model_uri == "file:///new/tagger/bbbb/"
    assert calls == ["down", "up with file:///new/tagger/bbbb/", "up with file:///new/tagger/bbbb/"]


def test_the_summary_gives_the_models_positive_reviews_next_to_the_rules() -> None:
    metrics = {"positive_reviews": 75}
    tagger = {"uri": "file:///s/tagger/abc/", "model_version": "abc", "reviews_scored": 200, "predicted_positive": 90}
    assert demo_cli.tagger_detail({"tagger": tagger, "metrics": metrics}) == (
        "model abc: 90 of 200 reviews predicted positive (45.0%); rule 'good': 75"
    )
    assert demo_cli.tagger_detail({"tagger": None, "metrics": metrics}) == (
        "off: predicted_positive and sentiment_score are NULL"
    )
