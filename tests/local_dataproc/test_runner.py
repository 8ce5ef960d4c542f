"""Pure planning of a spark-submit run and the failure summary: no processes, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from obt_tools.local.dataproc import runner

MIRROR = Path("/state/dataproc/mirror")


def _plan(pyspark: dict, properties: dict | None = None) -> runner.SubmitPlan:
    batch = {"pysparkBatch": pyspark, "runtimeConfig": {"properties": properties or {}}}
    return runner.plan_submit(batch, batch_id="b-1", mirror=MIRROR, spark_submit="spark-submit")


def test_gs_files_map_to_the_mirror_and_inputs_are_downloaded_but_outputs_not():
    plan = _plan(
        {
            "mainPythonFileUri": "gs://code/jobs/build.py",
            "pythonFileUris": ["gs://code/jobs/lib.zip", "file:///opt/extra.py"],
            "args": [
                "--purchases",
                "gs://raw/user_purchase/part-00000.csv.gz",
                "--manifest=gs://raw/user_purchase/_MANIFEST.json",
                "--output",
                "gs://curated",
                "--prefix",
                "gs://curated/obt/",
                "--build-id",
                "obt-1",
            ],
        }
    )

    assert plan.command[-10:] == [
        "/state/dataproc/mirror/code/jobs/build.py",
        "--purchases",
        "gs://raw/user_purchase/part-00000.csv.gz",
        "--manifest=gs://raw/user_purchase/_MANIFEST.json",
        "--output",
        "gs://curated",
        "--prefix",
        "gs://curated/obt/",
        "--build-id",
        "obt-1",
    ]
    assert "/state/dataproc/mirror/code/jobs/lib.zip,/opt/extra.py" in plan.command
    assert [uri for uri, _ in plan.downloads] == [
        "gs://code/jobs/build.py",
        "gs://code/jobs/lib.zip",
        "gs://raw/user_purchase/part-00000.csv.gz",
        "gs://raw/user_purchase/_MANIFEST.json",
    ]
    # Arguments may name objects the job creates; job code files must exist.
    assert plan.optional_downloads == {
        "gs://raw/user_purchase/part-00000.csv.gz",
        "gs://raw/user_purchase/_MANIFEST.json",
    }


def test_dataproc_only_properties_are_dropped_and_the_mirror_is_passed():
    plan = _plan(
        {"mainPythonFileUri": "file:///jobs/main.py"},
        {
            "spark.dataproc.driver.disk.size": "250g",
            "spark.executor.memory": "16g",
            "spark.driver.memory": "8g",
            "spark.dynamicAllocation.maxExecutors": "10",
            "spark.sql.shuffle.partitions": "4",
        },
    )
    confs = [plan.command[i + 1] for i, part in enumerate(plan.command) if part == "--conf"]

    assert plan.command[:5] == ["spark-submit", "--master", "local[*]", "--driver-memory", "1g"]
    assert "spark.sql.shuffle.partitions=4" in confs
    assert f"{runner.MIRROR_PROPERTY}={MIRROR}" in confs
    assert f"{runner.BATCH_ID_PROPERTY}=b-1" in confs
    assert "spark.ui.enabled=false" in confs
    assert plan.dropped_properties == [
        "spark.dataproc.driver.disk.size",
        "spark.driver.memory",
        "spark.dynamicAllocation.maxExecutors",
        "spark.executor.memory",
    ]
    assert plan.command[-1] == "/jobs/main.py"


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        ({"sparkBatch": {"mainClass": "Main"}}, "only pysparkBatch runs locally, got sparkBatch"),
        ({"pysparkBatch": {}}, "mainPythonFileUri is required"),
        ({"pysparkBatch": {"mainPythonFileUri": "hdfs:///x.py"}}, "unsupported URI"),
        ({"pysparkBatch": {"mainPythonFileUri": "gs:///x.py"}}, "without a bucket"),
        ({"pysparkBatch": {"mainPythonFileUri": "gs://b/../../etc/x.py"}}, "escapes the local mirror"),
    ],
)
def test_batches_that_cannot_run_locally_are_refused(batch, message):
    with pytest.raises(runner.BatchSpecError, match=message):
        runner.plan_submit(batch, batch_id="b-1", mirror=MIRROR, spark_submit="spark-submit")


def test_failure_summary_names_the_raised_exception_not_the_shutdown_noise():
    log = "\n".join(
        [
            "26/11/23 23:07:14 INFO SparkContext: Running Spark version 4.0",
            "Traceback (most recent call last):",
            '  File "/jobs/main.py", line 3, in <module>',
            "    raise ValueError('bad input: 3 rows')",
            "ValueError: bad input: 3 rows",
            "26/11/23 23:07:15 INFO ShutdownHookManager: Shutdown hook called",
            "26/11/23 23:07:15 INFO ShutdownHookManager: Deleting directory /tmp/spark-1",
        ]
    )

    assert runner.summarize_failure(log, 1) == "Driver exited with code 1: ValueError: bad input: 3 rows"


def test_failure_summary_without_a_traceback_uses_the_last_errors():
    log = "26/11/23 23:07:14 INFO X: fine\n26/11/23 23:07:15 ERROR SparkSubmit: no such file /x.py\n"

    message = runner.summarize_failure(log, 101)

    assert message == "Driver exited with code 101: 26/11/23 23:07:15 ERROR SparkSubmit: no such file /x.py"
    assert runner.summarize_failure("", 2) == "Driver exited with code 2: no output"
    assert len(runner.summarize_failure("E" * 5000, 1)) == 1000


# The end of a driver log cut short mid-plan: the lines a killed JVM leaves behind.
PLAN_FRAGMENT = "\n".join(
    [
        "26/12/02 07:31:20 INFO DAGScheduler: Submitting ResultStage 4 (AdaptiveSparkPlan isFinalPlan=false",
        "+- HashAggregate(keys=[customer_id#12], functions=[sum(amount#40)])",
        "   +- Exchange hashpartitioning(customer_id#12, 200), ENSURE_REQUIREMENTS, [plan_id=211]",
        "      +- Project [customer_id#12, CheckOverflow((promote_precision(quantity#3) * unit_price#5))",
    ]
)


@pytest.mark.parametrize(
    ("exit_code", "message"),
    [
        (-9, "Driver killed by signal 9 (SIGKILL)"),
        (-15, "Driver killed by signal 15 (SIGTERM)"),
        (137, "Driver exited with code 137: a driver process was killed by signal 9 (SIGKILL)"),
        (143, "Driver exited with code 143: a driver process was killed by signal 15 (SIGTERM)"),
    ],
)
def test_a_driver_ended_by_a_signal_is_reported_as_that_not_by_its_last_log_lines(exit_code, message):
    assert runner.summarize_failure(PLAN_FRAGMENT, exit_code) == message
    assert runner.summarize_failure(PLAN_FRAGMENT + "\nValueError: earlier, handled", exit_code) == message


RAW_REVIEWS = "movie_review/ingest_date=2026-11-23/movie_review.csv"


class FakeStorage:
    """A versioned bucket: every generation of every object, and which is live; records each download."""

    def __init__(self, versions: dict[tuple[str, int], bytes], live: dict[str, int]) -> None:
        self.versions, self.live, self.downloads = versions, live, []

    def bucket(self, bucket: str) -> FakeStorage:
        return self

    def blob(self, name: str, generation: int | None = None) -> FakeBlob:
        return FakeBlob(self, name, generation)


class FakeBlob:
    def __init__(self, storage: FakeStorage, name: str, generation: int | None) -> None:
        self.storage, self.name, self.generation = storage, name, generation

    def download_to_filename(self, path: str) -> None:
        from google.api_core.exceptions import NotFound

        generation = self.generation or self.storage.live.get(self.name)
        self.storage.downloads.append((self.name, self.generation))
        if (self.name, generation) not in self.storage.versions:
            raise NotFound(f"{self.name}#{generation}")
        Path(path).write_bytes(self.storage.versions[(self.name, generation)])


class Log:
    def info(self, *args: object, **fields: object) -> None:
        pass


def _pinned_plan(mirror: Path, generation: int) -> runner.SubmitPlan:
    batch = {
        "pysparkBatch": {
            "mainPythonFileUri": "file:///jobs/main.py",
            "args": ["--movie-reviews", f"gs://raw/{RAW_REVIEWS}#{generation}", "--output", "gs://curated"],
        }
    }
    return runner.plan_submit(batch, batch_id="b-1", mirror=mirror, spark_submit="spark-submit")


def test_a_pinned_input_is_required_and_staged_into_a_file_of_its_own_generation():
    plan = _pinned_plan(MIRROR, 7)

    assert plan.downloads == [
        (f"gs://raw/{RAW_REVIEWS}#7", MIRROR / f"raw/{RAW_REVIEWS}.generations/7/movie_review.csv")
    ]
    assert plan.optional_downloads == frozenset()  # an input, not an output the job may create
    assert plan.command[-4:] == ["--movie-reviews", f"gs://raw/{RAW_REVIEWS}#7", "--output", "gs://curated"]


def test_staging_downloads_the_pinned_generation_not_the_live_object_and_only_once(tmp_path):
    storage = FakeStorage({(RAW_REVIEWS, 7): b"version 7", (RAW_REVIEWS, 8): b"version 8"}, live={RAW_REVIEWS: 8})
    plan = _pinned_plan(tmp_path, 7)

    runner.stage_inputs(plan, storage, Log())
    runner.stage_inputs(plan, storage, Log())

    [(_, staged)] = plan.downloads
    assert staged.read_bytes() == b"version 7"
    assert storage.downloads == [(RAW_REVIEWS, 7)]  # a generation never changes: the staged file stands
    assert [p.name for p in staged.parent.iterdir()] == ["movie_review.csv"]  # no partial download left


def test_a_pinned_generation_the_storage_no_longer_has_fails_staging_saying_so(tmp_path):
    storage = FakeStorage({(RAW_REVIEWS, 8): b"version 8"}, live={RAW_REVIEWS: 8})

    with pytest.raises(FileNotFoundError) as failure:
        runner.stage_inputs(_pinned_plan(tmp_path, 7), storage, Log())

    assert str(failure.value) == f"input gs://raw/{RAW_REVIEWS} generation 7 is gone (overwritten or deleted)"
    assert not [path for path in tmp_path.rglob("*") if path.is_file()]


def test_staging_a_generation_prunes_the_others_but_never_one_an_unfinished_batch_reads(tmp_path):
    versions = {(RAW_REVIEWS, g): f"version {g}".encode() for g in (6, 7, 8)}
    storage = FakeStorage(versions, live={RAW_REVIEWS: 8})
    plans = {g: _pinned_plan(tmp_path, g) for g in (6, 7, 8)}
    for plan in plans.values():
        runner.stage_inputs(plan, storage, Log())
    in_use = runner.pinned_files({"pysparkBatch": {"args": [f"--movie-reviews=gs://raw/{RAW_REVIEWS}#6"]}}, tmp_path)

    runner.prune_generations(plans[8], in_use, Log())

    generations = tmp_path / f"raw/{RAW_REVIEWS}.generations"
    assert sorted(p.name for p in generations.iterdir()) == ["6", "8"]
    assert in_use == {plans[6].downloads[0][1]}
