"""Rules shared by both vendor files: ``malformed``, then ``duplicate``, then ``conflicting_review_id``.

A malformed row has the wrong number of fields, broken quoting (see ``csv_input``) or an id that is not
a non-negative integer. Text values are trimmed. A row repeating another well-formed row exactly is kept
once; different rows sharing one review id are all quarantined, since none of them can be trusted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from obt_job.csv_input import CORRUPT, clean_text, csv_text, swallowed_line

_ID_RE = r"^[0-9]{1,18}$"


def classify(df: DataFrame, columns: Sequence[str], id_columns: Mapping[str, str], key: str) -> DataFrame:
    """``df`` holds the string ``columns`` and ``_corrupt``; ``id_columns`` maps raw id column -> typed name.

    Returns the typed ids, the trimmed text columns, ``reason`` (NULL = kept), ``detail``, and what
    ``raw_record`` needs (the callers decide the final reason, then build ``raw`` for rejected rows only).
    ``key`` (a typed id name) is the review id used for ``conflicting_review_id``.
    """
    texts = text_columns(columns, id_columns)
    typed = [
        F.when(clean_text(F.col(raw)).rlike(_ID_RE), clean_text(F.col(raw)).cast("bigint")).alias(name)
        for raw, name in id_columns.items()
    ]
    # Each file is read by one task, so only the ids are typed there; the rows are then spread by review id
    # (repeats and conflicts share one, so this is the only shuffle) and the rest runs in parallel.
    spread = df.select(*columns, CORRUPT, *typed).repartition(F.col(key))
    staged = spread.select(
        *id_columns.values(),
        *[clean_text(F.col(c)).alias(c) for c in texts],
        *[F.col(raw).alias(f"_raw_{raw}") for raw in id_columns],
        F.greatest(F.lit(False), *[swallowed_line(F.col(c)) for c in texts]).alias("_swallowed"),
        F.col(CORRUPT),
    )
    malformed: Column = F.when(F.col(CORRUPT).isNotNull(), F.lit(f"expected {len(columns)} fields and balanced quotes"))
    malformed = malformed.when(F.col("_swallowed"), F.lit("unbalanced quote: a quoted value runs into the next line"))
    for raw, name in id_columns.items():
        malformed = malformed.when(
            F.col(name).isNull(),
            F.concat(F.lit(f"{raw} is not an integer: "), F.coalesce(F.col(f"_raw_{raw}"), F.lit("<empty>"))),
        )
    staged = staged.withColumn("_malformed", malformed)

    others = [F.col(name) for name in id_columns.values() if name != key] + [F.col(c) for c in texts]
    well_formed = F.col("_malformed").isNull()
    # The review id first: this window then reuses the partitioning by it, and its sort order (review id
    # leading) is also what the conflict window below needs, so the rows are sorted once.
    dup_window = Window.partitionBy(F.col(key), well_formed, *others).orderBy(F.col(key))
    staged = staged.withColumn("_rank", F.row_number().over(dup_window))
    is_dup = well_formed & (F.col("_rank") > 1)
    survivor = well_formed & ~is_dup
    # Distinct well-formed rows per review id: more than one means the vendor contradicts itself.
    conflict_window = Window.partitionBy(F.col(key))
    staged = staged.withColumn("_versions", F.sum(F.when(survivor, 1).otherwise(0)).over(conflict_window))
    is_conflict = survivor & (F.col("_versions") > 1)
    return staged.select(
        *[F.col(name) for name in id_columns.values()],
        *[F.col(c) for c in texts],
        *[F.col(f"_raw_{raw}") for raw in id_columns],
        F.col(CORRUPT),
        F.when(F.col("_malformed").isNotNull(), F.lit("malformed"))
        .when(is_dup, F.lit("duplicate"))
        .when(is_conflict, F.lit("conflicting_review_id"))
        .alias("reason"),
        F.when(F.col("_malformed").isNotNull(), F.col("_malformed"))
        .when(is_dup, F.lit("repeats another row exactly"))
        .when(
            is_conflict,
            F.concat(
                F.lit(f"{key} "),
                F.col(key).cast("string"),
                F.lit(" has "),
                F.col("_versions").cast("string"),
                F.lit(" different rows"),
            ),
        )
        .alias("detail"),
    )


def text_columns(columns: Sequence[str], id_columns: Mapping[str, str]) -> list[str]:
    """A vendor file's columns that are not ids: the bulk of its bytes."""
    return [c for c in columns if c not in id_columns]


def kept_record(columns: Sequence[str], id_columns: Mapping[str, str]) -> Column:
    """A kept row as a record of its file: typed ids and trimmed texts, in the file's column order."""
    return csv_text([F.col(id_columns.get(c, c)) for c in columns])


def raw_record(columns: Sequence[str], id_columns: Mapping[str, str]) -> Column:
    """A row of ``classify``'s output as text: as read when the reader flagged it, else its fields re-encoded."""
    fields = [F.col(f"_raw_{c}") if c in id_columns else F.col(c) for c in columns]
    return F.coalesce(F.col(CORRUPT), csv_text(fields))
