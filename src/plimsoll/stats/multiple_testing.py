"""Control false alarms across the columns of one comparison.

``effective_alpha`` returns the per-column level a p-value must beat:

- ``"bh"`` (default), Benjamini-Hochberg: with p-values sorted ascending, k* is the largest k with
  p_(k) <= k * alpha / m, and every p <= k* * alpha / m is rejected. When nothing is rejected the level
  reported is alpha / m, what the smallest p-value would have had to beat. BH controls the false
  discovery rate at alpha for independent or positively dependent tests; when no column drifted at all
  that is the probability of any alarm, i.e. the family-wise error rate.
- ``"bonferroni"``: alpha / m for every column; controls the family-wise error rate under any dependence.
- ``"none"``: alpha for every column (no control across columns).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from plimsoll.stats._errors import StatsOutOfRange, StatsUnknownName

CORRECTIONS = ("bh", "bonferroni", "none")


def effective_alpha(p_values: Sequence[float], alpha: float, correction: str = "bh") -> float:
    check_alpha(alpha)
    if correction not in CORRECTIONS:
        raise StatsUnknownName(
            f"correction must be one of {list(CORRECTIONS)}, got {correction!r}",
            field="correction",
            details={"choices": list(CORRECTIONS)},
        )
    m = len(p_values)
    if m == 0 or correction == "none":
        return alpha
    if correction == "bonferroni":
        return alpha / m
    ordered = np.sort(np.asarray(p_values, dtype=np.float64))
    passing = np.nonzero(ordered <= alpha * np.arange(1, m + 1) / m)[0]
    rejected = int(passing[-1]) + 1 if passing.size else 1
    return alpha * rejected / m


def check_alpha(alpha: float) -> None:
    if not 0.0 < alpha < 1.0:
        raise StatsOutOfRange(f"alpha must be within (0, 1), got {alpha}", field="alpha", limit="(0, 1)")
