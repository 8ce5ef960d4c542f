"""The job on the real files reproduces the reference figures of shared/data/README.md exactly."""

from __future__ import annotations

import json
import lzma
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from tests.spark_jobs.helpers import convert_uci_purchases, job_argv, pubsub_stub, write_snapshot_manifest

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
BUILD = "obt-realdata00000000000"

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


@pytest.fixture(scope="module")
def real_run(spark, tmp_path_factory):
    if not (DATA / "user_purchase.csv.gz").exists():
        pytest.skip(f"real data not found at {DATA}")
    from obt_job.args import parse_args
    from obt_job.job import run

    work = tmp_path_factory.mktemp("real")
    part = work / "raw" / "part-00000.csv.gz"
    part.parent.mkdir()
    rows = convert_uci_purchases(DATA / "user_purchase.csv.gz", part)
    manifest = work / "raw" / "_MANIFEST.json"
    write_snapshot_manifest(manifest, [part], rows)
    reviews = work / "raw" / "movie_review.csv"
    with lzma.open(DATA / "movie_review.csv.xz") as src, reviews.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    argv = job_argv(
        BUILD,
        manifest.as_uri(),
        [part.as_uri()],
        [reviews.as_uri()],
        [(DATA / "log_reviews.csv.gz").as_uri()],
        (work / "curated").as_uri(),
    )
    with pubsub_stub() as (host, published), pytest.MonkeyPatch.context() as mp:
        mp.setenv("PUBSUB_EMULATOR_HOST", host)
        result = run(spark, parse_args(argv))
    return {"manifest": result, "published": published, "curated": work / "curated"}


def test_reference_figures(real_run):
    manifest = real_run["manifest"]
    sources = manifest["sources"]
    assert sources["user_purchase"]["read"] == 541908
    assert sources["user_purchase"]["kept"] == 392446
    assert manifest["metrics"]["customers_with_purchases"] == 4335
    assert Decimal(manifest["metrics"]["amount_spent_total"]) == Decimal("8833773.964")
    assert (manifest["metrics"]["reviews"], manifest["metrics"]["positive_reviews"]) == (100000, 37597)
    assert manifest["obt"]["rows"] == 99965
    assert sources["movie_review"] == {
        "read": 100000,
        "kept": 100000,
        "quarantined": {"malformed": 0, "duplicate": 0, "conflicting_review_id": 0},
    }
    assert sources["review_log_join"]["kept"] == 100000
    for counts in sources.values():
        assert counts["read"] == counts["kept"] + sum(counts["quarantined"].values())
    assert manifest["status"] == "succeeded"
    assert manifest["metrics"]["unknown_locations"] == {}


def test_outputs_on_disk(spark, real_run):
    curated = real_run["curated"]
    build_dir = curated / "obt" / f"build_id={BUILD}"
    on_disk = json.loads((build_dir / "_MANIFEST.json").read_text())
    assert on_disk == real_run["manifest"]
    obt = spark.read.parquet(str(build_dir))
    assert obt.count() == 99965
    assert (
        obt.groupBy("customer_id", "log_date", "device", "location", "os", "browser").count().where("count > 1").count()
        == 0
    )
    marker = json.loads((build_dir / "_PUBLISHED.json").read_text())
    assert marker["status"] == "succeeded"
    [message] = real_run["published"]
    assert message["data"] == {
        "build_id": BUILD,
        "manifest_uri": f"{curated.as_uri()}/obt/build_id={BUILD}/_MANIFEST.json",
        "status": "succeeded",
    }
    quarantined = spark.read.parquet(str(curated / "quarantine" / "user_purchase" / f"build_id={BUILD}"))
    assert quarantined.count() == 541908 - 392446
