"""The build manifest and the data-quality verdict: pure functions over counts, no Spark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES, REASONS
from obt_job.args import JobArgs

_U64 = (1 << 64) - 1
# A vendor tally's count of the rows failing the source's row rule, whatever their final reason (``layer_counts``).
ROW_RULE_ROWS = "row_rule_rows"


def source_counts(source: str, by_reason: Mapping[str | None, int]) -> dict[str, Any]:
    """``by_reason`` maps a reason (``None`` = kept) to a row count; read = kept + all quarantined.

    Every reason the contract lists for ``source`` appears, zeros included, in rule order.
    """
    quarantined = {reason: int(by_reason.get(reason, 0)) for reason in REASONS[source]}
    for reason, count in by_reason.items():
        if reason is not None and reason not in quarantined:
            quarantined[reason] = int(count)
    kept = int(by_reason.get(None, 0))
    return {"read": kept + sum(quarantined.values()), "kept": kept, "quarantined": quarantined}


def by_reason(tally: Sequence[Mapping[str, Any]]) -> dict[str | None, int]:
    """A source's tally (rows of ``reason``, ``count`` and other columns) summed per reason."""
    counts: dict[str | None, int] = {}
    for row in tally:
        counts[row["reason"]] = counts.get(row["reason"], 0) + int(row["count"])
    return counts


def counts_by_date(source: str, tally: Sequence[Mapping[str, Any]], days: Sequence[date]) -> dict[str, dict[str, Any]]:
    """A vendor source's counts on each of ``days`` (its tally is split by ``ingest_date``), in date order: each as
    ``source_counts`` gives them (a day without rows too), so they add up to the source's own."""
    return {
        day.isoformat(): source_counts(source, by_reason([row for row in tally if row["ingest_date"] == day]))
        for day in sorted(days)
    }


def layer_counts(tally: Sequence[Mapping[str, Any]], day: date, row_rule: str | None) -> dict[str, int]:
    """What a date's layer marker counts of one vendor source: the rows read, those malformed, and those failing the
    source's row rule whatever their final reason; none depends on another date."""
    rows = [row for row in tally if row["ingest_date"] == day]
    counts = {
        "read": sum(int(row["count"]) for row in rows),
        "malformed": sum(int(row["count"]) for row in rows if row["reason"] == "malformed"),
    }
    if row_rule:
        counts[row_rule] = sum(int(row[ROW_RULE_ROWS]) for row in rows)
    return counts


def obt_partitions(digests: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The manifest's ``obt.partitions`` from ``obt.partition_digests``' rows: per ``log_date`` (oldest first) its
    row count and its digest as 16 lower-case hex digits of the unsigned 64-bit value."""
    return {
        row["log_date"].isoformat(): {"rows": int(row["rows"]), "digest": f"{int(row['digest']) & _U64:016x}"}
        for row in sorted(digests, key=lambda row: row["log_date"])
    }


def metrics(tallies: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """The business figures, from the kept rows (``reason`` NULL) of the sources' tallies.

    The purchases' tally carries ``customers`` (distinct) and ``amount`` (exact sum); the reviews' carries
    ``positive``; the logs' is split by ``unknown_location`` (the location as written, else NULL).
    """

    def kept(source: str) -> list[Mapping[str, Any]]:
        return [row for row in tallies[source] if row["reason"] is None]

    buyers, reviews = kept(PURCHASES), kept(MOVIE_REVIEW)
    unknown = [row for row in kept(LOG_REVIEWS) if row["unknown_location"] is not None]
    return {
        "customers_with_purchases": sum(int(row["customers"]) for row in buyers),
        "amount_spent_total": decimal_text(sum((row["amount"] or Decimal(0) for row in buyers), Decimal(0))),
        "reviews": sum(int(row["count"]) for row in reviews),
        "positive_reviews": sum(int(row["positive"] or 0) for row in reviews),
        "unknown_locations": {str(row["unknown_location"]): int(row["count"]) for row in unknown},
    }


def quality_problems(sources: Mapping[str, Mapping[str, Any]], max_share: float) -> list[str]:
    """Readable reasons why the build fails its data-quality thresholds (empty = passes)."""
    problems = []
    for source, counts in sources.items():
        read = counts["read"]
        bad = sum(counts["quarantined"].values())
        if read and bad / read > max_share:
            problems.append(f"{source}: {bad} of {read} rows quarantined ({bad / read:.1%}), above {max_share:.1%}")
    return problems


def snapshot_problems(purchases_manifest: Mapping[str, Any], purchases_read: int) -> list[str]:
    """The snapshot manifest's row count must match what was read: a mismatch means lost or split records."""
    expected = purchases_manifest.get("total_rows")
    if isinstance(expected, int) and expected != purchases_read:
        return [f"{PURCHASES}: snapshot manifest announces {expected} rows, the job read {purchases_read}"]
    return []


def decimal_text(value: Decimal | None) -> str:
    """``8833773.964000000`` -> ``8833773.964`` (exact, no exponent)."""
    if value is None:
        return "0"
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def build(
    args: JobArgs,
    *,
    inputs: Mapping[str, Any],
    sources: Mapping[str, Mapping[str, Any]],
    vendor_dates: Mapping[str, Any],
    obt_prefix: str,
    obt_files: list[str],
    obt_partitions: Mapping[str, Any],
    metrics: Mapping[str, Any],
    tagger: Mapping[str, Any] | None,
    problems: list[str],
    created_at: str,
) -> dict[str, Any]:
    """The manifest (``docs/contracts.md``); ``inputs`` is ``sources.manifest_inputs``'s, ``vendor_dates`` says
    where each vendor date's classified rows are, ``obt_partitions`` is ``obt_partitions``' (the OBT's rows are
    theirs), ``tagger`` ``tagging.manifest_record``'s. Any ``problems`` fail the build and become its ``reason``."""
    return {
        "build_id": args.build_id,
        "status": "failed" if problems else "succeeded",
        "reason": "; ".join(problems) if problems else None,
        "input_watermark": args.input_watermark,
        "inputs": dict(inputs),
        "vendor_dates": dict(vendor_dates),
        "created_at": created_at,
        "obt": {
            "uri_prefix": obt_prefix,
            "files": obt_files,
            "rows": sum(int(p["rows"]) for p in obt_partitions.values()),
            "partitions": dict(obt_partitions),
        },
        "sources": {name: dict(counts) for name, counts in sources.items()},
        "metrics": dict(metrics),
        "tagger": dict(tagger) if tagger is not None else None,
    }
