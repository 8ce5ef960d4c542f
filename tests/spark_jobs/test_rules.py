"""Each business rule on small hand-made DataFrames (one shared SparkSession); the vendor rules on one date."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

pytest.importorskip("pyspark")

from obt_job import layer, logs, obt, purchases, reviews  # noqa: E402
from obt_job.csv_input import CORRUPT  # noqa: E402
from obt_job.sources import VENDOR_SOURCES  # noqa: E402

from obt_contract.schema import DATA_COLUMNS  # noqa: E402
from tests.spark_jobs.helpers import DAY, classify_one_date  # noqa: E402

REVIEWS, LOGS = VENDOR_SOURCES

P_SCHEMA = ", ".join(f"{c} string" for c in (*purchases.COLUMNS, CORRUPT))
R_SCHEMA = ", ".join(f"{c} string" for c in (*reviews.COLUMNS, CORRUPT))
L_SCHEMA = ", ".join(f"{c} string" for c in (*logs.COLUMNS, CORRUPT))


def _purchase(invoice="536365", stock="85123A", qty="6", when="2010-12-01 08:26:00", price="2.550", cust="17850"):
    return (invoice, stock, "HEART", qty, when, price, cust, "United Kingdom", None)


def _xml(date="04-25-2021", device="Mobile", location="Kansas", os="Apple iOS") -> str:
    parts = {"logDate": date, "device": device, "location": location, "os": os}
    body = "".join(f"<{k}>{v}</{k}>" for k, v in parts.items() if v is not None)
    return f"<reviewlog><log>{body}</log></reviewlog>"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("good.", 1),
        ("Good,", 1),
        ("not good", 1),
        ("goodness", 0),
        ("good<br />", 1),
        ("so-GOOD!", 1),
        ("<b>good</b>", 1),
        ("goodgood", 0),
        ("good123", 0),
        ("g ood", 0),
        ("<a href=good>link</a>", 0),  # inside a tag
        ("1 < good > 0", 0),  # "< good >" reads as a tag
        ("good > 0", 1),
        ("a < good", 1),  # no closing bracket: not a tag
        ("<p>Good</p>", 1),
        ("", 0),
        (None, 0),
    ],
)
def test_positive_review_tokens(spark, text, expected):
    df = spark.createDataFrame([(text,)], "t string")
    assert df.select(reviews.positive_review(df.t)).first()[0] == expected


def test_state_canonicalisation_fixes_the_three_misspellings(spark):
    names = ["Pensylvania", "Lousiana", "Massachussets", "kansas", "New York", "Atlantis"]
    df = spark.createDataFrame([(n,) for n in names], "loc string")
    got = [r[0] for r in df.select(logs.canonical_state(df.loc)).collect()]
    assert got == ["Pennsylvania", "Louisiana", "Massachusetts", "Kansas", "New York", None]


def test_browser_region_and_season(spark):
    df = spark.createDataFrame(
        [("Linux",), ("Google Android",), ("Microsoft Windows",), ("Apple iOS",), ("Apple MacOS",), ("BeOS",)],
        "os string",
    )
    assert [r[0] for r in df.select(logs.browser(df.os)).collect()] == [
        "Firefox",
        "Chrome",
        "Edge",
        "Safari",
        "Safari",
        "Unknown",
    ]
    states = spark.createDataFrame(
        [("California",), ("New Mexico",), ("Wyoming",), ("Texas",), ("Atlantis",)], "s string"
    )
    assert [r[0] for r in states.select(logs.region(states.s)).collect()] == ["West", "West", "West", "East", "East"]


@pytest.mark.parametrize(
    ("day", "season"),
    [
        ("2021-01-01", "Winter"),
        ("2021-03-19", "Winter"),
        ("2021-03-20", "Spring"),
        ("2021-06-20", "Spring"),
        ("2021-06-21", "Summer"),
        ("2021-09-22", "Summer"),
        ("2021-09-23", "Fall"),
        ("2021-12-20", "Fall"),
        ("2021-12-21", "Winter"),
        ("2020-02-29", "Winter"),
    ],
)
def test_season_boundaries(spark, day, season):
    df = spark.createDataFrame([(dt.date.fromisoformat(day),)], "d date")
    assert df.select(logs.season(df.d)).first()[0] == season


def test_log_date_must_be_a_real_mm_dd_yyyy_date(spark):
    df = spark.createDataFrame([("04-25-2021",), ("02-30-2021",), ("4-5-2021",), ("2021-04-25",), ("",)], "t string")
    assert [r[0] for r in df.select(logs.log_date(df.t)).collect()] == [dt.date(2021, 4, 25), None, None, None, None]


def test_purchase_reasons_in_rule_order(spark):
    rows = [
        _purchase(),  # clean
        _purchase(),  # exact repeat: duplicate
        _purchase(),  # and another
        _purchase(qty="7"),  # differs in one column: clean
        _purchase(cust="", stock="D"),  # both missing customer and non-product: first rule wins
        _purchase(stock="M"),
        _purchase(stock="M"),  # a repeat of a rejected row keeps that row's reason
        _purchase(invoice="C536365", qty="-1"),
        _purchase(price="-0.010"),
        _purchase(price="1.2345"),  # more decimals than numeric(10,3): malformed, never rounded
        _purchase(when="12/1/2010 8:26"),
        _purchase(when="2011-02-30 10:00:00"),  # the right layout, not a real date
        _purchase(when="2011-02-28 24:00:00"),
        _purchase(cust="17850.0"),
        (*_purchase()[:-1], "536365,85123A,HEART,6"),  # reader flagged it
    ]
    got = [r["reason"] for r in purchases.classify(spark.createDataFrame(rows, P_SCHEMA)).collect()]
    assert sorted(got, key=str) == sorted(
        [
            None,
            "duplicate",
            "duplicate",
            None,
            "missing_customer",
            "non_product_code",
            "non_product_code",
            "cancelled_or_adjustment",
            "cancelled_or_adjustment",
            "malformed",
            "malformed",
            "malformed",
            "malformed",
            "malformed",
            "malformed",
        ],
        key=str,
    )


def test_customer_aggregate_is_exact_decimal(spark):
    rows = [
        _purchase(invoice=f"5{i:05d}", qty="3", price="0.100", when=f"2010-12-{i + 1:02d} 23:59:59") for i in range(10)
    ]
    rows.append(_purchase(invoice="500000", qty="1", price="0.001", when="2010-12-01 00:00:00"))
    classified = purchases.classify(spark.createDataFrame(rows, P_SCHEMA))
    agg = purchases.customer_aggregate(classified.where("reason IS NULL")).first()
    assert agg["amount_spent"] == Decimal("3.001000000")
    assert agg["count_invoices"] == 10
    assert (agg["first_invoice_date"], agg["last_invoice_date"]) == (dt.date(2010, 12, 1), dt.date(2010, 12, 10))


def test_vendor_duplicates_conflicts_and_malformed(spark):
    rows = [
        ("1", "same", "1", None),
        ("1", " same ", "1", None),  # trimmed, it repeats the row above
        ("1", "one text", "2", None),
        ("1", "other text", "2", None),  # differs in one column: both conflict
        ("2", "text", "x", None),
        ("", "text", "3", None),
        ("3", '"quote runs\ninto the next line', "4", None),
        ("3", "short", None, '3,"short'),
        (" 4 ", " padded ", " 5 ", None),
    ]
    got = classify_one_date(REVIEWS, spark.createDataFrame(rows, R_SCHEMA)).collect()
    reasons = sorted((r["reason"] or "kept") for r in got)
    assert reasons == sorted(
        ["kept", "duplicate", "conflicting_review_id", "conflicting_review_id"] + ["malformed"] * 4 + ["kept"]
    )
    padded = next(r for r in got if r["review_id"] == 5)
    assert (padded["customer_id"], padded["review_str"], padded["reason"]) == (4, "padded", None)


def test_bad_logs(spark):
    rows = [
        ("1", _xml(), None),
        ("2", _xml(os=None), None),  # missing child
        ("3", _xml(device=""), None),  # empty child
        ("4", _xml(date="02-30-2021"), None),  # not a real date
        ("5", _xml()[:40], None),  # broken tag
        ("6", "not xml at all", None),
        ("7", _xml(location=" Lousiana "), None),
    ]
    got = {r["review_id"]: r for r in classify_one_date(LOGS, spark.createDataFrame(rows, L_SCHEMA)).collect()}
    assert {k: r["reason"] for k, r in got.items()} == {
        1: None,
        2: "bad_log",
        3: "bad_log",
        4: "bad_log",
        5: "bad_log",
        6: "bad_log",
        7: None,
    }
    assert "os" in got[2]["detail"]
    assert "does not parse" in got[5]["detail"]
    assert (got[7]["location"], got[7]["region"], got[7]["unknown_location"]) == ("Louisiana", "East", False)


def test_obt_one_row_per_key_and_left_join_after_aggregation(spark):
    # The tagger's scores (tagging.score): customer 200's review was not scored (no model).
    # Layer rows after the rules (their ingest date, and ``reason`` NULL: kept), with their texts.
    review_rows = spark.createDataFrame(
        [(1, 100, 1, 1, 0.75, "r1"), (2, 100, 0, 1, 0.5, "r2"), (3, 200, 1, None, None, "r3"),
         (4, 300, 1, 0, 0.1, "r4")],
        "review_id bigint, customer_id bigint, positive_review int, predicted_positive int, sentiment_score double, "
        "review_str string",
    ).selectExpr("*", f"DATE'{DAY}' AS ingest_date", "CAST(NULL AS string) AS reason")  # fmt: skip
    day = dt.date(2021, 4, 25)
    log_rows = spark.createDataFrame(
        [
            (1, day, "Mobile", "Kansas", "Linux", "Firefox", "East", "Spring", "l1"),
            (2, day, "Mobile", "Kansas", "Linux", "Firefox", "East", "Spring", "l2"),
            (3, day, "Tablet", "Oregon", "Linux", "Firefox", "West", "Spring", "l3"),
            (5, day, "Tablet", "Oregon", "Linux", "Firefox", "West", "Spring", "l5"),
        ],
        "review_id bigint, log_date date, device string, location string, os string, browser string, "
        "region string, season string, log string",
    ).selectExpr("*", f"DATE'{DAY}' AS ingest_date", "CAST(NULL AS string) AS reason")
    # The join itself sees no text (as in the build, where texts are not cached); orphans fetch theirs.
    joined = obt.join_reviews_logs(review_rows.drop("review_str"), log_rows.drop("log"))
    orphans = obt.orphan_records(joined.where("reason IS NOT NULL"), review_rows, log_rows)
    assert sorted((r["review_id"], r["reason"], r["raw"]) for r in orphans.collect()) == [
        (4, "review_without_log", "300,r4,4"),
        (5, "log_without_review", "5,l5"),
    ]
    # A source read again that no longer holds an orphan's text loses no orphan: its record is just unknown.
    gone = obt.orphan_records(joined.where("reason IS NOT NULL"), review_rows.where("review_id <> 4"), log_rows)
    assert sorted((r["review_id"], r["raw"], r["detail"]) for r in gone.collect()) == [
        (4, None, "no log for review id 4"),
        (5, "5,l5", "no review for log id 5"),
    ]
    purchase_rows = [_purchase(invoice=f"5{i}", qty="2", price="1.500", cust="100") for i in range(3)]
    customers = purchases.customer_aggregate(
        purchases.classify(spark.createDataFrame(purchase_rows, P_SCHEMA)).where("reason IS NULL")
    )
    table = obt.build(joined.where("reason IS NULL"), customers)
    assert [(f.name, f.dataType.simpleString()) for f in table.schema.fields] == [
        (c.name, c.spark_type) for c in DATA_COLUMNS
    ]
    rows = {r["customer_id"]: r for r in table.collect()}
    assert set(rows) == {100, 200}
    # Two reviews on one key do not double the customer's purchases: aggregated before the join.
    assert (rows[100]["review_count"], rows[100]["review_score"], rows[100]["amount_spent"]) == (2, 1, Decimal("9"))
    # The tagger's columns: how many reviews it calls positive, their mean P(positive); NULL with none scored.
    assert (rows[100]["predicted_positive"], rows[100]["sentiment_score"]) == (2, 0.625)
    assert (rows[200]["predicted_positive"], rows[200]["sentiment_score"]) == (None, None)
    assert rows[100]["count_invoices"] == 3
    # A customer without purchases keeps NULL purchase metrics.
    assert (rows[200]["amount_spent"], rows[200]["count_invoices"], rows[200]["first_invoice_date"]) == (
        None,
        None,
        None,
    )


def test_plain_log_fast_path_reads_what_from_xml_reads(spark):
    from pyspark.sql import functions as F

    docs = [
        _xml(),
        _xml(location=" New York "),
        _xml(os=""),
        _xml().replace("</os>", "</os><ipAddress>1.2.3.4</ipAddress><phoneNumber>555</phoneNumber>"),
    ]
    df = spark.createDataFrame([(d,) for d in docs], "x string")
    both = df.select(
        F.col("x").rlike(logs._SIMPLE_LOG).alias("fast"),
        logs._simple_fields(F.col("x")).alias("regex"),
        F.from_xml("x", logs.XML_SCHEMA, {"mode": "PERMISSIVE"}).alias("xml"),
    ).collect()
    assert all(row["fast"] for row in both)
    for row in both:
        for name in logs.REQUIRED:
            regex_value = row["regex"]["log"][name].strip() or None
            xml_value = row["xml"]["log"][name]
            assert regex_value == (xml_value.strip() or None if xml_value is not None else None), name


def _shuffles_and_sorts(df) -> tuple[int, int]:
    plan = df._jdf.queryExecution().executedPlan().toString()
    return plan.count("Exchange "), plan.count("Sort [")


def test_each_source_is_shuffled_once_and_sorted_at_most_once(spark, tmp_path):
    """Per row, a date's repeats are found with a single shuffle of the rows (the review texts are the bulk of the
    data; a second partitioning would move them twice), and so are the repeats and conflicts across dates (over
    narrow rows), the rules' two windows sharing one sort; the purchases' exact-row dedupe sorts nothing (a hash
    aggregate)."""
    for source, row in ((REVIEWS, ("1", "a", "1", None)), (LOGS, ("1", _xml(), None))):
        schema = ", ".join(f"{c} string" for c in (*source.columns, CORRUPT))
        # The date a column, as a build reads it from each file's name (a literal would be optimised out).
        dated = spark.createDataFrame([(*row, DAY)], f"{schema}, ingest_date date")
        rows = source.layer_rows(source.classify_rows(dated, 2))
        assert _shuffles_and_sorts(rows) == (1, 1), source.name
        # As a build reads a layer: its files, the narrow columns.
        layer.write(rows, f"file://{tmp_path / source.name}")
        files = [f"file://{path}" for path in (tmp_path / source.name).rglob("*.parquet")]
        narrow = [c for c in rows.columns if c != "ingest_date" and c not in source.text_parts]
        assert _shuffles_and_sorts(source.apply_rules(layer.read(spark, rows.schema, files, narrow))) == (1, 1)
    assert _shuffles_and_sorts(purchases.classify(spark.createDataFrame([_purchase()], P_SCHEMA))) == (1, 0)
