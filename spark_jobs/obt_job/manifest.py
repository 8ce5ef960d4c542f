"""The build manifest and the data-quality verdict: pure functions over counts, no Spark."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from obt_contract.sources import LOG_REVIEWS, MOVIE_REVIEW, PURCHASES, REASONS
from obt_job.args import JobArgs


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
    obt_prefix: str,
    obt_files: list[str],
    obt_rows: int,
    metrics: Mapping[str, Any],
    tagger: Mapping[str, Any] | None,
    problems: list[str],
    created_at: str,
) -> dict[str, Any]:
    """The manifest (``docs/contracts.md``); ``inputs`` is ``sources.manifest_inputs``'s, ``tagger``
    ``tagging.manifest_record``'s. Any ``problems`` fail the build and become its ``reason``."""
    return {
        "build_id": args.build_id,
        "status": "failed" if problems else "succeeded",
        "reason": "; ".join(problems) if problems else None,
        "input_watermark": args.input_watermark,
        "inputs": dict(inputs),
        "created_at": created_at,
        "obt": {"uri_prefix": obt_prefix, "files": obt_files, "rows": obt_rows},
        "sources": {name: dict(counts) for name, counts in sources.items()},
        "metrics": dict(metrics),
        "tagger": dict(tagger) if tagger is not None else None,
    }
