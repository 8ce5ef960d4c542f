"""Folds by distinct text: copies share a fold, classes spread evenly, the same file gives the same folds."""

from __future__ import annotations

from collections import Counter

import pytest

from obt.errors import UserError
from obt_tools.tagger.folds import assign_folds
from obt_tools.tagger.labels import LabelledReviews


def reviews(pairs: list[tuple[str, float]]) -> LabelledReviews:
    return LabelledReviews("mem.csv", "0" * 64, tuple(t for t, _ in pairs), tuple(lab for _, lab in pairs))


def test_copies_of_a_text_share_a_fold() -> None:
    pairs = [(f"text {i}", float(i % 2)) for i in range(40)]
    pairs += [("copied", 1.0)] * 7 + [("copied both ways", 1.0), ("copied both ways", 0.0)] + pairs[:10]
    data = reviews(pairs)
    folds = assign_folds(data, 5)
    by_text: dict[str, set[int]] = {}
    for text, fold in zip(data.texts, folds, strict=True):
        by_text.setdefault(text, set()).add(fold)
    assert all(len(f) == 1 for f in by_text.values())
    assert set(folds) == set(range(5))


def test_folds_are_stratified_and_balanced_by_distinct_text() -> None:
    data = reviews([(f"p{i}", 1.0) for i in range(53)] + [(f"n{i}", 0.0) for i in range(47)])
    folds = assign_folds(data, 5)
    sizes = Counter(folds)
    assert max(sizes.values()) - min(sizes.values()) <= 1
    positives = Counter(f for f, label in zip(folds, data.labels, strict=True) if label == 1.0)
    assert max(positives.values()) - min(positives.values()) <= 1


def test_same_seed_same_folds_other_seed_other_folds() -> None:
    data = reviews([(f"t{i}", float(i % 2)) for i in range(50)])
    assert assign_folds(data, 5, seed=1) == assign_folds(data, 5, seed=1)
    assert assign_folds(data, 5, seed=1) != assign_folds(data, 5, seed=2)


@pytest.mark.parametrize(
    ("pairs", "folds", "message"),
    [
        ([("a", 1.0), ("b", 0.0)], 1, "at least 2"),
        ([("a", 1.0), ("b", 1.0)], 2, "only one class"),
        ([("a", 1.0), ("a", 1.0), ("b", 1.0), ("c", 0.0), ("d", 0.0)], 3, "at least 3 distinct positive texts"),
    ],
)
def test_too_little_data_for_the_folds(pairs: list[tuple[str, float]], folds: int, message: str) -> None:
    with pytest.raises(UserError, match=message):
        assign_folds(reviews(pairs), folds)
