"""Rules shared by both vendor files, in two phases, so that each vendor date is classified once.

**Per row** (``classify_rows``; with the source's own fields, ``layer_rows`` gives the rows of a date's classified
layer, ``layer``): the typed ids; ``malformed`` (``reason`` and ``detail``): the wrong number of fields, broken
quoting (``csv_input``) or an id that is not a non-negative integer; the texts trimmed; and the row's
``fingerprint``, SHA-256 of its typed ids and trimmed texts (what the duplicate window used to partition by): two
well-formed rows with one review id and one fingerprint are the same row.

**Across dates** (``apply_rules``, over the layer rows of every date of the build): a row repeating another
well-formed row exactly is kept once, the copy of the earliest ingest date (``duplicate``); different rows sharing
one review id are all quarantined, since none of them can be trusted (``conflicting_review_id``); then the source's
own row rule (``bad_log``). The first failing reason wins: malformed, duplicate, conflicting_review_id, the row rule.
On a single date this is what the rules always were.

**Quarantine records.** A rejected row's record is its fields as read (``raw_record``). The layer keeps it as
``raw`` only for the rows a rule may reject within their own date (malformed, failing the row rule, or sharing their
review id with another row of the date): nearly every rejected row, and the narrow reads carry it. The record's
parts (ids as read, trimmed texts) are in the layer for every row, in columns only ``with_texts`` and ``kept_texts``
read: a row rejected only because of another date's rows, or an orphan of the join, gets its record from there,
reading the texts of just the dates that have one. Such a row has its review id to itself in its date (else it would
keep ``raw``), so its date and review id find it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from obt_job.csv_input import CORRUPT, clean_text, csv_text, swallowed_line

DATE = "ingest_date"
# The review id: the key of both vendor files, and of the join.
KEY = "review_id"
_ID_RE = r"^[0-9]{1,18}$"
# An id column as read (before trimming and typing), for the quarantine record.
_AS_READ = "_raw_"


def classify_rows(df: DataFrame, columns: Sequence[str], id_columns: Mapping[str, str], buckets: int) -> DataFrame:
    """``df`` holds the string ``columns``, ``_corrupt`` and ``ingest_date``; ``id_columns`` maps raw id column ->
    typed name (one of them ``KEY``). ``buckets``: how many tasks share the rows of one date.

    Returns per row: ``ingest_date``, the typed ids, the trimmed texts, the ids as read, ``_corrupt``, ``reason``
    (``malformed`` or NULL), ``detail``, ``fingerprint`` (NULL when malformed) and ``repeats`` (the rows of its date
    sharing its review id, itself included).
    """
    texts = text_columns(columns, id_columns)
    typed = [
        F.when(clean_text(F.col(raw)).rlike(_ID_RE), clean_text(F.col(raw)).cast("bigint")).alias(name)
        for raw, name in id_columns.items()
    ]
    # Each file is read by one task, so only the ids are typed there. The rows are then spread by date and review
    # id (a date's repeats share both) over ``buckets`` tasks per date: the only shuffle, after which the rest runs
    # in parallel, and each date's layer is at most ``buckets`` files however many dates a build classifies.
    bucket = F.pmod(F.xxhash64(F.col(KEY)), F.lit(buckets)).alias("_bucket")
    spread = df.select(*columns, CORRUPT, DATE, *typed, bucket).repartition(DATE, "_bucket")
    staged = spread.select(
        DATE,
        "_bucket",
        *id_columns.values(),
        *[clean_text(F.col(c)).alias(c) for c in texts],
        *[F.col(raw).alias(_AS_READ + raw) for raw in id_columns],
        F.greatest(F.lit(False), *[swallowed_line(F.col(c)) for c in texts]).alias("_swallowed"),
        F.col(CORRUPT),
    )
    malformed: Column = F.when(F.col(CORRUPT).isNotNull(), F.lit(f"expected {len(columns)} fields and balanced quotes"))
    malformed = malformed.when(F.col("_swallowed"), F.lit("unbalanced quote: a quoted value runs into the next line"))
    for raw, name in id_columns.items():
        malformed = malformed.when(
            F.col(name).isNull(),
            F.concat(F.lit(f"{raw} is not an integer: "), F.coalesce(F.col(_AS_READ + raw), F.lit("<empty>"))),
        )
    staged = staged.withColumn("_malformed", malformed)
    well_formed = F.col("_malformed").isNull()
    identity = F.struct(*[F.col(name) for name in id_columns.values()], *[F.col(c) for c in texts])
    # The same partitioning as the shuffle above (the bucket is a function of the review id), so no second one.
    same_id = Window.partitionBy(DATE, "_bucket", KEY)
    return staged.select(
        DATE,
        *id_columns.values(),
        *texts,
        *[_AS_READ + raw for raw in id_columns],
        CORRUPT,
        F.when(~well_formed, F.lit("malformed")).alias("reason"),
        F.col("_malformed").alias("detail"),
        F.when(well_formed, F.unhex(F.sha2(F.to_json(identity), 256))).alias("fingerprint"),
        F.count(F.lit(1)).over(same_id).alias("repeats"),
    )


def layer_rows(df: DataFrame, columns: Sequence[str], id_columns: Mapping[str, str], row_rule: str | None) -> DataFrame:
    """``classify_rows``' rows with the source's own fields, as a date's layer keeps them: ``raw`` for the rows a
    rule may reject within their own date (the module docstring), NULL for the others."""
    at_risk = F.col("reason").isNotNull() | (F.col("repeats") > 1)
    if row_rule:
        at_risk = at_risk | F.col(row_rule).isNotNull()
    return df.withColumn("raw", F.when(at_risk, raw_record(columns, id_columns))).drop(CORRUPT, "repeats")


def apply_rules(rows: DataFrame, row_rule: str | None) -> DataFrame:
    """The final ``reason`` and ``detail`` of every layer row of every date (``layer_rows``' columns, ``ingest_date``
    included, the texts left out); ``raw`` kept for rejected rows only, ``fingerprint`` dropped."""
    well_formed = F.col("reason").isNull()
    # The review id first: both windows then use one partitioning by it, and this one's sort order (review id
    # leading) is also what the per-id window below needs, so the rows are shuffled once and sorted once. Among
    # copies of one row the earliest date's survives (the raw text orders copies within a date: they all have it).
    copies = Window.partitionBy(KEY, "fingerprint").orderBy(DATE, "raw")
    ranked = rows.repartition(KEY).withColumn("_copy", F.row_number().over(copies))
    is_dup = well_formed & (F.col("_copy") > 1)
    survivor = well_formed & ~is_dup
    # Distinct well-formed rows per review id, over every date: more than one means the vendor contradicts itself.
    ranked = ranked.withColumn("_versions", F.count(F.when(survivor, 1)).over(Window.partitionBy(KEY)))
    is_conflict = survivor & (F.col("_versions") > 1)
    reason = F.when(~well_formed, F.col("reason")).when(is_dup, F.lit("duplicate"))
    reason = reason.when(is_conflict, F.lit("conflicting_review_id"))
    detail = F.when(~well_formed, F.col("detail")).when(is_dup, F.lit("repeats another row exactly"))
    versions = F.concat(
        F.lit(f"{KEY} "),
        F.col(KEY).cast("string"),
        F.lit(" has "),
        F.col("_versions").cast("string"),
        F.lit(" different rows"),
    )
    detail = detail.when(is_conflict, versions)
    if row_rule:
        reason = reason.when(F.col(row_rule).isNotNull(), F.lit(row_rule))
        detail = detail.when(F.col(row_rule).isNotNull(), F.col(row_rule))
    kept_columns = [c for c in rows.columns if c not in ("reason", "detail", "raw", "fingerprint")]
    return ranked.select(
        *kept_columns,
        reason.alias("reason"),
        detail.alias("detail"),
        F.when(reason.isNotNull(), F.col("raw")).alias("raw"),
    )


def text_columns(columns: Sequence[str], id_columns: Mapping[str, str]) -> list[str]:
    """A vendor file's columns that are not ids: the bulk of its bytes."""
    return [c for c in columns if c not in id_columns]


def text_parts(columns: Sequence[str], id_columns: Mapping[str, str]) -> list[str]:
    """The layer's columns that only a quarantine record needs: the ids as read and the trimmed texts."""
    return [_AS_READ + raw for raw in id_columns] + text_columns(columns, id_columns)


def raw_record(columns: Sequence[str], id_columns: Mapping[str, str]) -> Column:
    """A row as text: as read when the reader flagged it, else its fields re-encoded (ids as read, texts trimmed)."""
    return F.coalesce(F.col(CORRUPT), _fields_record(columns, id_columns))


def _fields_record(columns: Sequence[str], id_columns: Mapping[str, str]) -> Column:
    return csv_text([F.col(_AS_READ + c) if c in id_columns else F.col(c) for c in columns])


def kept_record(columns: Sequence[str], id_columns: Mapping[str, str]) -> Column:
    """A kept row as a record of its file: typed ids and trimmed texts, in the file's column order."""
    return csv_text([F.col(id_columns.get(c, c)) for c in columns])


def with_texts(
    rejected: DataFrame, texts: DataFrame, columns: Sequence[str], id_columns: Mapping[str, str]
) -> DataFrame:
    """``rejected`` rows (``ingest_date``, review id, ``raw``, …) with ``raw`` filled from their date's ``texts``
    (layer rows with ``text_parts``) where the layer did not keep it: a row rejected only by another date's rows.
    Such a row is the only one of its date with its review id, so the two find it (module docstring)."""
    records = texts.where(F.col("raw").isNull()).select(DATE, KEY, _fields_record(columns, id_columns).alias("_record"))
    joined = rejected.join(records, [DATE, KEY], "left")
    return joined.withColumn("raw", F.coalesce(F.col("raw"), F.col("_record"))).drop("_record")


def kept_texts(texts: DataFrame, columns: Sequence[str], id_columns: Mapping[str, str]) -> DataFrame:
    """One ``kept_record`` (``raw``) per date and review id of ``texts``' well-formed rows: for the join's orphans.

    A kept row's date holds no other well-formed row with its review id but its own copies (another one would
    make it a conflict), so any copy gives its record."""
    records = texts.where(F.col("reason").isNull()).select(DATE, KEY, kept_record(columns, id_columns).alias("raw"))
    return records.dropDuplicates([DATE, KEY])
