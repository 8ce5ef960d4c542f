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
