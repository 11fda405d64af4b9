"""Label counts of two categorical summaries as one 2 x K table, and what truncation allows of it.

``category_table`` lines the two summaries' labels up (plus one "other" cell); a label that a
truncated summary does not list may hide in its "other", so such labels go to "other" on both
sides. ``cautious_category_table`` moves a merged, truncated side's counts within their stated
error (``count_error``) as near to no drift as they can go, for verdicts that err towards "no
drift" (``evidence.py``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plimsoll.stats.summaries import CategoricalSummary

FloatArray = NDArray[np.float64]


def category_table(reference: CategoricalSummary, current: CategoricalSummary) -> FloatArray:
    """2 x K counts over the union of labels plus one "other" cell.

    A label missing from a truncated summary may hide in that summary's ``other``, so such labels are
    moved to the "other" cell on both sides rather than counted as zero.
    """
    ref_counts, cur_counts = reference.as_dict(), current.as_dict()
    labels = list(dict.fromkeys([*reference.categories, *current.categories]))
    ref_other, cur_other = float(reference.other_count), float(current.other_count)
    ref_row: list[float] = []
    cur_row: list[float] = []
    for label in labels:
        hidden = (reference.truncated and label not in ref_counts) or (
            current.truncated and label not in cur_counts
        )
        if hidden:
            ref_other += ref_counts.get(label, 0)
            cur_other += cur_counts.get(label, 0)
        else:
            ref_row.append(ref_counts.get(label, 0))
            cur_row.append(cur_counts.get(label, 0))
    return np.array([[*ref_row, ref_other], [*cur_row, cur_other]], dtype=np.float64)


def cautious_category_table(table: FloatArray, count_errors: tuple[int, int]) -> FloatArray:
    """``table`` (2 x K, "other" last) with each truncated side's row moved, within what truncation
    allows, as near the other side's shares as it can go (``nearest_row``)."""
    moved = table.copy()
    for side, error in enumerate(count_errors):
        if error > 0 and table.shape[1] >= 2:
            moved[side] = nearest_row(table[side], table[1 - side], float(error))
    return moved


def nearest_row(row: FloatArray, opposite: FloatArray, error: float) -> FloatArray:
    """The row within truncation's box nearest ``opposite``'s shares in chi-square distance.

    A merged summary that folded labels into "other" keeps label counts that are each low by up to
    ``error``, the difference sitting in "other" (last). Within that box (each label up by 0 to
    ``error``, "other" down by their sum) the nearest row is ``x_i = clip(t_i (1 + mu), c_i,
    c_i + error)`` for the one ``mu`` at which "other" is as far from its target, relatively, as
    the free labels are, found by bisection; ``t`` are the counts ``opposite``'s shares expect.
    """
    total = float(row.sum())
    expected = np.maximum(opposite / max(float(opposite.sum()), 1.0) * total, 1e-9)
    low = row[:-1]
    high = low + error
    held_in_other = float(row[-1])

    def labels_at(mu: float) -> FloatArray:
        labels = np.clip(expected[:-1] * (1.0 + mu), low, high)
        taken = float(labels.sum() - low.sum())
        # the labels can take back no more than "other" holds
        return labels if taken <= held_in_other else low + (labels - low) * (held_in_other / taken)

    def other_beyond_labels(mu: float) -> float:
        other = total - float(labels_at(mu).sum())
        return float((other - expected[-1]) / expected[-1]) - mu

    lower, upper = -1.0, 1.0
    while other_beyond_labels(upper) > 0 and upper < 1e9:
        upper *= 2
    for _ in range(60):
        middle = (lower + upper) / 2
        lower, upper = (middle, upper) if other_beyond_labels(middle) > 0 else (lower, middle)
    labels = labels_at(upper)
    return np.asarray(np.append(labels, total - float(labels.sum())), dtype=np.float64)
