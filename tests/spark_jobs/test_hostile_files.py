"""Hostile input files, end to end in ONE job run (local mirror mode): no crash, every record accounted for.

Covers: BOM, CRLF, multi-line quoted field, non-UTF-8 bytes, extra and missing columns, unparsable numbers
and dates, an unbalanced quote, a truncated last line, an empty file, header-only files, XML with a missing
child and a broken tag, duplicate and conflicting review ids, orphans on both sides of the join; and an input
whose live generation moves while the build reads it (as Dataproc would see it), which fails the build. The
review tagger scores the kept reviews (``--tagger-model``, a ``file://`` model under the local endpoint).
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections import Counter
from pathlib import Path

import google_crc32c
import pytest

from obt_contract.layout import mirror_name, pinned_uri
from obt_contract.schema import DATA_COLUMNS
from tests.spark_jobs.helpers import CURATED, RAW, TOPIC, gz, job_argv, pubsub_stub, write_snapshot_manifest

BUILD = "obt-hostile0000000000000"

pytestmark = pytest.mark.slow

PURCHASE_HEADER = b"invoice_number,stock_code,detail,quantity,invoice_date,unit_price,customer_id,country"
PART0 = (
    b"\r\n".join(
        [
            b"\xef\xbb\xbf" + PURCHASE_HEADER,
            b"536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.550,17850,United Kingdom",  # clean
            b"536365,85123A,WHITE HEART,6,2010-12-01 08:26:00,2.550,17850,United Kingdom",  # duplicate
            b"536365,85123A,WHITE HEART,7,2010-12-01 08:26:00,2.550,17850,United Kingdom",  # differs in quantity: clean
            b"536366,22633,HAND WARMER,6,2010-12-01 08:28:00,1.850,,United Kingdom",  # missing_customer
            b"536367,D,Discount,-1,2010-12-01 08:30:00,27.500,14527,United Kingdom",  # non_product_code
            b'C536368,22556,"PLASTERS, TIN",-12,2010-12-01 09:00:00,1.650,17850,United Kingdom',  # cancelled
            b'536369,22111,"BAD BYTES \xff\xfe",6,2010-12-01 09:01:00,4.250,13047,France',  # clean, U+FFFD
            b"536370,22112,EXTRA,6,2010-12-01 09:02:00,4.250,13047,France,surplus",  # malformed: extra column
            b"536371,22113,MISSING,6,2010-12-01 09:03:00,4.250,13047",  # malformed: missing column
            b"536372,22114,BAD QTY,six,2010-12-01 09:04:00,4.250,13047,France",  # malformed: quantity
            b"536373,22115,BAD DATE,6,12/1/2010 9:05,4.250,13047,France",  # malformed: date
        ]
    )
    + b"\r\n"
)
PART3 = (
    PURCHASE_HEADER + b"\n"
    b"536374,22117,CLEAN,2,2010-12-02 10:00:00,1.005,12345,Spain\n"  # clean
    b'536375,22116,"TRUNCATED'  # malformed: truncated last line inside quotes
)


def _log(log_date: str, device: str, location: str, os: str) -> bytes:
    return (
        f"<reviewlog><log><logDate>{log_date}</logDate><device>{device}</device><location>{location}</location>"
        f"<os>{os}</os><ipAddress>1.2.3.4</ipAddress><phoneNumber>555-0100</phoneNumber></log></reviewlog>"
    ).encode()


LOG3 = _log("09-23-2021", "Computer", "California", "Microsoft Windows")
REVIEWS = b"\r\n".join(
    [
        b"\xef\xbb\xbfcid,review_str,id_review",
        b'17850,"A good movie.",1',  # positive
        b'17850,"Good,\r\nsecond line",2',  # multi-line, positive
        b'13047,"not good",3',  # positive (the rule has no negation)
        b'99999,"goodness<br />gracious",4',  # not positive; customer without purchases
        b'13047,"bytes \xff\xfe here",5',  # kept with U+FFFD; its log is bad
        b'13047,"dup",6',
        b'13047,"dup",6',  # duplicate
        b'13047,"first",7',  # conflicting_review_id
        b'13047,"second",7',  # conflicting_review_id
        b'abc,"bad cid",8',  # malformed: customer id
        b'13047,"extra",9,9',  # malformed: extra column
        b'13047,"unbalanced quote 10',  # malformed: unbalanced quote ...
        b'13047,"after",11',  # ... which swallows this line: one malformed record holding both
        b'13047,"truncated',  # malformed: truncated last line
    ]
)
LOGS = (
    b"\n".join(
        [
            b"id_review,log",
            b"1," + _log("03-20-2021", "Mobile", "Pensylvania", "Linux"),
            b"2," + _log("06-21-2021", "Tablet", "Lousiana", "Google Android"),
            b"3," + LOG3,
            b"4," + _log("12-21-2021", "Mobile", "Atlantis", "Apple iOS"),
            b"5,<reviewlog><log><logDate>01-01-2021</logDate><device>Mobile</device><location>Ohio</location></log></reviewlog>",
            b"6," + LOG3,
            b"6," + LOG3,  # duplicate
            b"7," + _log("01-02-2021", "Mobile", "Ohio", "Linux"),  # its reviews conflict: log_without_review
            b"8,<reviewlog><log><logDate>01-01-2021</logDate><device>Mobile</devic",  # broken tag: bad_log
            b"20," + _log("01-03-2021", "Mobile", "Ohio", "Linux"),  # no review: log_without_review
            b"x," + LOG3,  # malformed id
            b"11," + LOG3,
        ]
    )
    + b"\n"
)


SNAPSHOT_MANIFEST = "user_purchase/ingest_date=2026-11-23/run_id=r1/_MANIFEST.json"
# The input whose live generation moves after the build pinned it.
MOVED = "log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz"


def _moving(state_reader):
    """``inputs.state_reader``, except that the second look at ``MOVED`` finds a newer generation."""

    def reader(paths):
        read, looks = state_reader(paths), Counter()

        def look(uri: str):
            state, looks[uri] = read(uri), looks[uri] + 1
            if MOVED in uri and looks[uri] > 1:
                return dataclasses.replace(state, generation=state.generation + 1)
            return state

        return look

    return reader


@pytest.fixture(scope="module")
def hostile_run(spark, tmp_path_factory, storage_emulator, monkeypatch_module, tagger_model):
    from obt_job import job
    from obt_job.args import parse_args
    from obt_job.paths import MIRROR_CONF

    mirror = tmp_path_factory.mktemp("mirror")
    files = {
        "user_purchase/ingest_date=2026-11-23/run_id=r1/part-00000.csv": PART0,
        "user_purchase/ingest_date=2026-11-23/run_id=r1/part-00001.csv.gz": gz(PURCHASE_HEADER + b"\n"),
        "user_purchase/ingest_date=2026-11-23/run_id=r1/part-00002.csv": b"",
        "user_purchase/ingest_date=2026-11-23/run_id=r1/part-00003.csv.gz": gz(PART3),
        "movie_review/ingest_date=2026-11-23/movie_review.csv": REVIEWS,
        "movie_review/ingest_date=2026-11-24/movie_review.csv": b"cid,review_str,id_review\r\n",
        "log_reviews/ingest_date=2026-11-23/log_reviews.csv.gz": gz(LOGS),
        "log_reviews/ingest_date=2026-11-24/log_reviews.csv": b"",
        SNAPSHOT_MANIFEST: b"",  # written below
    }
    # Each input at a generation of its own, where the local endpoint stages that generation: only there.
    pinned = {name: pinned_uri(RAW, name, 1000 + i) for i, name in enumerate(files)}
    for name, data in files.items():
        (mirror / mirror_name(pinned[name])).parent.mkdir(parents=True)
        (mirror / mirror_name(pinned[name])).write_bytes(data)
    manifest = pinned.pop(SNAPSHOT_MANIFEST)
    write_snapshot_manifest(mirror / mirror_name(manifest), [], total_rows=13)

    def uris(prefix: str) -> list[str]:
        return [uri for name, uri in pinned.items() if name.startswith(prefix)]

    argv = job_argv(
        BUILD,
        manifest,
        uris("user_purchase"),
        uris("movie_review"),
        uris("log_reviews"),
        f"gs://{CURATED}",
        max_share=0.5,
        tagger_model=tagger_model.uri,
    )
    spark.conf.set(MIRROR_CONF, str(mirror))
    monkeypatch_module.setattr(job, "state_reader", _moving(job.state_reader))
    try:
        with pubsub_stub() as (host, published):
            monkeypatch_module.setenv("PUBSUB_EMULATOR_HOST", host)
            result = job.run(spark, parse_args(argv))
    finally:
        spark.conf.unset(MIRROR_CONF)
    return {"manifest": result, "published": published, "mirror": mirror, "files": files, "manifest_uri": manifest}


def _read(spark, mirror: Path, prefix: str):
    return spark.read.parquet(str(mirror / CURATED / prefix))


def test_every_record_is_accounted_for(hostile_run):
    sources = {name: dict(counts) for name, counts in hostile_run["manifest"]["sources"].items()}
    for counts in sources.values():
        assert counts["read"] == counts["kept"] + sum(counts["quarantined"].values())
    # The vendor files' counts per ingest date: every date of the build, adding up to the source's.
    for name in ("movie_review", "log_reviews"):
        by_date = sources[name].pop("by_date")
        assert list(by_date) == ["2026-11-23", "2026-11-24"]
        assert by_date["2026-11-23"] == sources[name] and by_date["2026-11-24"]["read"] == 0
    assert sources["user_purchase"] == {
        "read": 13,
        "kept": 4,
        "quarantined": {
            "malformed": 5,
            "missing_customer": 1,
            "non_product_code": 1,
            "cancelled_or_adjustment": 1,
            "duplicate": 1,
        },
    }
    assert sources["movie_review"] == {
        "read": 13,
        "kept": 6,
        "quarantined": {"malformed": 4, "duplicate": 1, "conflicting_review_id": 2},
    }
    assert sources["log_reviews"] == {
        "read": 12,
        "kept": 8,
        "quarantined": {"malformed": 1, "duplicate": 1, "conflicting_review_id": 0, "bad_log": 2},
    }
    assert sources["review_log_join"] == {
        "read": 9,
        "kept": 5,
        "quarantined": {"review_without_log": 1, "log_without_review": 3},
    }


def test_quarantine_keeps_raw_text_and_reason(spark, hostile_run):
    rows = _read(spark, hostile_run["mirror"], f"quarantine/user_purchase/build_id={BUILD}").collect()
    raws = {r["raw"]: (r["reason"], r["detail"]) for r in rows}
    assert raws['536375,22116,"TRUNCATED'][0] == "malformed"
    assert raws["536370,22112,EXTRA,6,2010-12-01 09:02:00,4.250,13047,France,surplus"][0] == "malformed"
    assert "quantity" in raws["536372,22114,BAD QTY,six,2010-12-01 09:04:00,4.250,13047,France"][1]
    reviews = _read(spark, hostile_run["mirror"], f"quarantine/movie_review/build_id={BUILD}").collect()
    assert {r["raw"] for r in reviews if r["reason"] == "malformed"} == {
        "abc,bad cid,8",
        '13047,"extra",9,9',
        '13047,"""unbalanced quote 10\n13047,""after""",11',
        '13047,"truncated',
    }
    logs = _read(spark, hostile_run["mirror"], f"quarantine/log_reviews/build_id={BUILD}").collect()
    bad = {r["raw"].split(",")[0]: r["detail"] for r in logs if r["reason"] == "bad_log"}
    assert set(bad) == {"5", "8"}
    assert "os" in bad["5"]
    joins = _read(spark, hostile_run["mirror"], f"quarantine/review_log_join/build_id={BUILD}").collect()
    # An orphan's record carries its text, although the build caches the vendor rows without it.
    assert sorted((r["reason"], r["raw"]) for r in joins) == [
        ("log_without_review", "11," + LOG3.decode()),
        ("log_without_review", "20," + _log("01-03-2021", "Mobile", "Ohio", "Linux").decode()),
        ("log_without_review", "7," + _log("01-02-2021", "Mobile", "Ohio", "Linux").decode()),
        ("review_without_log", "13047,bytes \ufffd\ufffd here,5"),
    ]


def test_obt_rows_follow_the_rules(spark, hostile_run):
    obt = _read(spark, hostile_run["mirror"], f"obt/build_id={BUILD}")
    assert obt.columns == [c.name for c in DATA_COLUMNS]
    rows = {(r["customer_id"], r["location"]): r.asDict() for r in obt.collect()}
    assert set(rows) == {(17850, "Pennsylvania"), (17850, "Louisiana"), (13047, "California"), (99999, "Atlantis")}
    ca = rows[(13047, "California")]
    assert (ca["review_count"], ca["review_score"], ca["season"], ca["region"], ca["browser"]) == (
        2,
        1,
        "Fall",
        "West",
        "Edge",
    )
    assert str(ca["amount_spent"]) == "25.500000000"
    pa = rows[(17850, "Pennsylvania")]
    assert (pa["season"], pa["browser"], pa["review_score"], str(pa["amount_spent"])) == (
        "Spring",
        "Firefox",
        1,
        "33.150000000",
    )
    assert rows[(17850, "Louisiana")]["season"] == "Summer"
    unknown = rows[(99999, "Atlantis")]
    assert (unknown["season"], unknown["region"], unknown["amount_spent"], unknown["count_invoices"]) == (
        "Winter",
        "East",
        None,
        None,
    )


def test_failed_build_is_announced_and_marked(hostile_run, storage_emulator):
    manifest = hostile_run["manifest"]
    assert manifest["status"] == "failed"
    moved = f"input gs://{RAW}/{MOVED} changed while the build read it (generation 1006 → 1007)"
    assert manifest["reason"].startswith(f"{moved}; user_purchase: 9 of 13 rows quarantined")
    assert manifest["metrics"] == {
        "customers_with_purchases": 3,
        "amount_spent_total": "60.66",
        "reviews": 6,
        "positive_reviews": 3,
        "unknown_locations": {"Atlantis": 1},
    }
    manifest_uri = f"gs://{CURATED}/obt/build_id={BUILD}/_MANIFEST.json"
    [message] = hostile_run["published"]
    assert message["path"] == f"/v1/{TOPIC}:publish"
    assert message["data"] == {
        "build_id": BUILD,
        "manifest_uri": manifest_uri,
        "status": "failed",
        "reason": manifest["reason"],
    }
    bucket = storage_emulator.bucket(CURATED)
    names = sorted(b.name for b in storage_emulator.list_blobs(CURATED))
    assert f"obt/build_id={BUILD}/_MANIFEST.json" in names
    assert json.loads(bucket.blob(f"obt/build_id={BUILD}/_MANIFEST.json").download_as_text()) == manifest
    marker = json.loads(bucket.blob(f"obt/build_id={BUILD}/_PUBLISHED.json").download_as_text())
    assert (marker["message_id"], marker["status"]) == ("1", "failed")
    parquet = [n for n in names if n.endswith(".parquet")]
    assert [n for n in parquet if n.startswith("obt/")] == [
        f"obt/build_id={BUILD}/{f}" for f in manifest["obt"]["files"]
    ]
    for source in ("user_purchase", "movie_review", "log_reviews", "review_log_join"):
        assert any(n.startswith(f"quarantine/{source}/build_id={BUILD}/part-") for n in parquet)


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


def test_the_manifest_records_the_generation_size_and_crc32c_of_every_input_read(hostile_run):
    files = dict(hostile_run["files"])
    files[SNAPSHOT_MANIFEST] = (hostile_run["mirror"] / mirror_name(hostile_run["manifest_uri"])).read_bytes()
    read = {
        name: {"uri": f"gs://{RAW}/{name}", "generation": 1000 + i, "bytes": len(data), "crc32c": _crc32c(data)}
        for i, (name, data) in enumerate(files.items())
    }

    def records(prefix: str) -> list[dict]:
        return [record for name, record in read.items() if name.startswith(prefix) and name != SNAPSHOT_MANIFEST]

    assert hostile_run["manifest"]["inputs"] == {
        "purchases_manifest": read[SNAPSHOT_MANIFEST],
        "purchases": records("user_purchase/"),
        "movie_reviews": records("movie_review/"),
        "log_reviews": records("log_reviews/"),
    }


def test_a_crash_leaves_no_manifest_and_publishes_nothing(spark, tmp_path, monkeypatch):
    from obt_job.args import parse_args
    from obt_job.job import run

    manifest = tmp_path / "_MANIFEST.json"
    write_snapshot_manifest(manifest, [], total_rows=1)
    # Vendor files named as the raw layout names them (their ingest date is in the name).
    logs_file = tmp_path / "log_reviews/ingest_date=2026-11-23/log_reviews.csv"
    logs_file.parent.mkdir(parents=True)
    logs_file.write_bytes(LOGS)
    argv = job_argv(
        "obt-crash00000000000000",
        manifest.as_uri(),
        [(tmp_path / "missing-part.csv.gz").as_uri()],
        # Not Path.as_uri(): it percent-encodes '=', which Hadoop would take literally.
        [f"file://{tmp_path}/movie_review/ingest_date=2026-11-23/missing-reviews.csv"],
        [f"file://{logs_file}"],
        (tmp_path / "curated").as_uri(),
    )
    with pubsub_stub() as (host, published):
        monkeypatch.setenv("PUBSUB_EMULATOR_HOST", host)
        with pytest.raises(Exception, match="missing-part"):
            run(spark, parse_args(argv))
    assert not list(tmp_path.glob("curated/**/_MANIFEST.json"))
    assert published == []


# The kept reviews' texts (review_str as the job keeps it, trimmed) and their OBT keys; review 5 has no log.
KEPT_REVIEWS = {
    1: ("A good movie.", (17850, "Pennsylvania")),
    2: ("Good,\r\nsecond line", (17850, "Louisiana")),
    3: ("not good", (13047, "California")),
    4: ("goodness<br />gracious", (99999, "Atlantis")),
    5: ("bytes \ufffd\ufffd here", None),
    6: ("dup", (13047, "California")),
}


def test_the_tagger_scores_every_kept_review_and_the_obt_aggregates_its_scores(spark, hostile_run, tagger_model):
    from pyspark.ml import PipelineModel

    texts = spark.createDataFrame([(text,) for text, _ in KEPT_REVIEWS.values()], "review_str string")
    says = {
        row["review_str"]: (int(row["prediction"]), float(row["probability"][1]))
        for row in PipelineModel.load(str(tagger_model.folder)).transform(texts).collect()
    }
    assert hostile_run["manifest"]["tagger"] == {
        "uri": tagger_model.uri,
        "model_version": tagger_model.version,
        "reviews_scored": len(KEPT_REVIEWS),
        "predicted_positive": sum(p for p, _ in says.values()),
    }
    obt = {
        (r["customer_id"], r["location"]): r
        for r in _read(spark, hostile_run["mirror"], f"obt/build_id={BUILD}").collect()
    }
    for key in {k for _, k in KEPT_REVIEWS.values() if k}:
        scores = [says[text] for text, k in KEPT_REVIEWS.values() if k == key]
        assert obt[key]["predicted_positive"] == sum(p for p, _ in scores), key
        assert obt[key]["sentiment_score"] == pytest.approx(sum(s for _, s in scores) / len(scores)), key
