"""``obt demo`` without a local cloud: inputs and arguments checked before anything starts, a failed build's
summary, the heartbeat without a terminal, and the run id that names the purchase snapshot after the seeded rows."""

from __future__ import annotations

import gzip
import lzma
from pathlib import Path
from typing import Any

import pytest

from obt.errors import UserError
from obt_tools import demo
from obt_tools.cli import demo as demo_cli
from obt_tools.cli import main
from obt_tools.local import stack

GOOD = {
    "user_purchase.csv": "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,12/1/2010 8:26,2.55,17850,United Kingdom\n",
    "movie_review.csv": 'cid,review_str,id_review\n13799,"a good, long film",1\n',
    "log_reviews.csv": "id_review,log\n1,<reviewlog><log><logDate>04-25-2021</logDate></log></reviewlog>\n",
}


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
