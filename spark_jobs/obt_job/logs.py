"""Review-session logs ``id_review,log`` (XML): the vendor rules (``vendor``), ``bad_log``, the derived dimensions.

The XML is parsed with Spark's built-in ``from_xml`` in PERMISSIVE mode: a document that does not parse
yields a NULL struct instead of an exception (``xpath_*`` would abort the job on the first broken tag).
Documents in the vendor's exact plain layout take an equivalent regular-expression fast path.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

COLUMNS = ("id_review", "log")
IDS = {"id_review": "review_id"}
# The logs' own rule, after the vendor rules: its reason, and the column holding why a row fails it.
ROW_RULE = "bad_log"
# Relative to the root element <reviewlog>: the one child <log> and its fields.
XML_SCHEMA = "log STRUCT<logDate: STRING, device: STRING, location: STRING, os: STRING>"
REQUIRED = ("logDate", "device", "location", "os")

US_STATES = (
    "Alabama", "Alaska", "Arizona", "Arkansas", "California", "Colorado", "Connecticut", "Delaware", "Florida",
    "Georgia", "Hawaii", "Idaho", "Illinois", "Indiana", "Iowa", "Kansas", "Kentucky", "Louisiana", "Maine",
    "Maryland", "Massachusetts", "Michigan", "Minnesota", "Mississippi", "Missouri", "Montana", "Nebraska",
    "Nevada", "New Hampshire", "New Jersey", "New Mexico", "New York", "North Carolina", "North Dakota", "Ohio",
    "Oklahoma", "Oregon", "Pennsylvania", "Rhode Island", "South Carolina", "South Dakota", "Tennessee", "Texas",
    "Utah", "Vermont", "Virginia", "Washington", "West Virginia", "Wisconsin", "Wyoming",
)  # fmt: skip
MISSPELLINGS = {"Pensylvania": "Pennsylvania", "Lousiana": "Louisiana", "Massachussets": "Massachusetts"}
WEST_STATES = (
    "Alaska", "Arizona", "California", "Colorado", "Hawaii", "Idaho", "Montana", "Nevada", "New Mexico",
    "Oregon", "Utah", "Washington", "Wyoming",
)  # fmt: skip
BROWSERS = {
    "Linux": "Firefox",
    "Google Android": "Chrome",
    "Microsoft Windows": "Edge",
    "Apple iOS": "Safari",
    "Apple MacOS": "Safari",
}


def _lookup(mapping: dict[str, str], key: Column) -> Column:
    pairs = [item for k, v in mapping.items() for item in (F.lit(k), F.lit(v))]
    return F.element_at(F.create_map(*pairs), key)


def _canonical_names() -> dict[str, str]:
    names = {state.lower(): state for state in US_STATES}
    names.update({wrong.lower(): right for wrong, right in MISSPELLINGS.items()})
    return names


def canonical_state(location: Column) -> Column:
    """The official state name (case-insensitive, the three misspellings fixed), or NULL when unknown."""
    return _lookup(_canonical_names(), F.lower(location))


def browser(os: Column) -> Column:
    return F.coalesce(_lookup(BROWSERS, os), F.lit("Unknown"))


def region(state: Column) -> Column:
    return F.when(state.isin(*WEST_STATES), F.lit("West")).otherwise(F.lit("East"))


def season(day: Column) -> Column:
    """Spring 03-20..06-20, Summer 06-21..09-22, Fall 09-23..12-20, else Winter (month-day of ``day``)."""
    md = F.month(day) * 100 + F.dayofmonth(day)  # 03-20 -> 320: integer comparisons, no date formatting
    return (
        F.when(md.between(320, 620), F.lit("Spring"))
        .when(md.between(621, 922), F.lit("Summer"))
        .when(md.between(923, 1220), F.lit("Fall"))
        .otherwise(F.lit("Winter"))
    )


def log_date(text: Column) -> Column:
    """A real ``MM-dd-yyyy`` date, else NULL (Spark's parser rejects 02-30; the pattern rejects 4-5-2021)."""
    return F.when(text.rlike(r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$"), F.try_to_date(text, "MM-dd-yyyy"))


# The vendor's exact layout: fixed children in fixed order, text without markup or entities. A document
# of this shape is well-formed XML whose values regular expressions read exactly as an XML parser would,
# so it skips from_xml (about 5x slower); anything else goes through from_xml.
_PLAIN = "[^<>&]*"
_SIMPLE_LOG = (
    f"^<reviewlog><log><logDate>{_PLAIN}</logDate><device>{_PLAIN}</device><location>{_PLAIN}</location>"
    f"<os>{_PLAIN}</os>(<ipAddress>{_PLAIN}</ipAddress>)?(<phoneNumber>{_PLAIN}</phoneNumber>)?</log></reviewlog>$"
)


def _simple_fields(xml: Column) -> Column:
    fields = [F.regexp_extract(xml, f"<{name}>({_PLAIN})</{name}>", 1).alias(name) for name in REQUIRED]
    return F.struct(F.struct(*fields).alias("log"))


def parse_log(xml: Column) -> Column:
    """``STRUCT<log: STRUCT<logDate, device, location, os>>``; ``log`` is NULL when the XML does not parse."""
    return F.when(xml.rlike(_SIMPLE_LOG), _simple_fields(xml)).otherwise(
        F.from_xml(xml, XML_SCHEMA, {"mode": "PERMISSIVE"})
    )


def row_fields(rows: DataFrame) -> DataFrame:
    """``vendor.classify_rows``' rows with the log's dimensions and ``bad_log``: why a well-formed row's XML does
    not parse or lacks a required field, NULL when it is fine (the rule applies after the vendor rules)."""
    parsed = rows.withColumn("_xml", parse_log(F.col("log")))
    fields = {name: F.trim(F.col("_xml").getField("log").getField(name)) for name in REQUIRED}
    date = log_date(fields["logDate"])
    problems = [
        F.when(date.isNull(), F.lit("logDate")),
        *[F.when(F.coalesce(fields[n], F.lit("")) == "", F.lit(n)) for n in ("device", "location", "os")],
    ]
    problem_list = F.concat_ws(", ", *problems)
    is_bad = F.col("reason").isNull() & (problem_list != "")
    bad_detail = F.when(
        F.col("_xml").getField("log").isNull(), F.lit("XML does not parse or has no <log> element")
    ).otherwise(F.concat(F.lit("missing, empty or invalid: "), problem_list))
    state = canonical_state(fields["location"])
    # An unknown location is kept as written (and counted in data quality).
    place = F.coalesce(state, fields["location"])
    return parsed.select(
        *rows.columns,
        F.when(is_bad, bad_detail).alias(ROW_RULE),
        date.alias("log_date"),
        fields["device"].alias("device"),
        place.alias("location"),
        state.isNull().alias("unknown_location"),
        fields["os"].alias("os"),
        browser(fields["os"]).alias("browser"),
        region(place).alias("region"),
        season(date).alias("season"),
    )
