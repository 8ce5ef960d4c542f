"""Cross-validation folds by distinct text: every copy of a text lands in the same fold.

Grouping, not deduplicating: copies stay in the data (training sees the file as labelled, and a text labelled
both ways keeps both rows), but a text is never in the training part and the test part of the same fold, which
would reward memorising it. Folds are dealt on the driver from a hash of (seed, text), so they do not depend on
Spark's partitioning or version: the same file and seed give the same folds anywhere.

Stratified: distinct texts are ordered by label (each text takes the label of its first row), then by hash, and
dealt round-robin, so every fold holds about 1/k of each class and k folds differ in size by at most one text.
"""

from __future__ import annotations

import hashlib

from obt.errors import UserError
from obt_tools.tagger.labels import LabelledReviews

SEED = 20240611


def assign_folds(data: LabelledReviews, folds: int, seed: int = SEED) -> tuple[int, ...]:
    """The fold (0..folds-1) of each row of ``data``, in row order."""
    if folds < 2:
        raise UserError(f"--folds must be at least 2, got {folds}")
    first_label: dict[str, float] = {}
    for text, label in zip(data.texts, data.labels, strict=True):
        first_label.setdefault(text, label)
    by_class = {
        label: sorted((t for t, lab in first_label.items() if lab == label), key=lambda t: _key(seed, t))
        for label in sorted(set(first_label.values()), reverse=True)
    }
    if len(by_class) < 2:
        raise UserError(f"{data.source} holds only one class: both positive and negative rows are needed")
    for label, texts in by_class.items():
        if len(texts) < folds:
            name = "positive" if label == 1.0 else "negative"
            raise UserError(
                f"{folds} folds need at least {folds} distinct {name} texts in each class; {data.source} has "
                f"{len(texts)}"
            )
    fold_of = {text: i % folds for i, text in enumerate(t for texts in by_class.values() for t in texts)}
    return tuple(fold_of[text] for text in data.texts)


def _key(seed: int, text: str) -> bytes:
    return hashlib.sha256(f"{seed}\0{text}".encode()).digest()
