"""Which test each column gets by default, and the smallest effect worth an alarm for each test.

Default choice, by column kind:

- categorical (labels, booleans): ``chi_square`` of homogeneity on the label counts;
- numeric with at most ``DISCRETE_MAX_VALUES`` distinct reference values (flags, small counts,
  constant columns): ``chi_square`` on the values;
- any other numeric column: ``ks`` (two-sample Kolmogorov-Smirnov).

The test never changes with the row count. What changes smoothly with the sample sizes is the
threshold: a column drifts when its statistic exceeds both the critical value of its test at the
level left after multiple-testing control (large for small samples, shrinking like 1/sqrt(n)) and the
``min_effect`` floor below (which takes over for large samples, so a million rows do not turn a
negligible difference into an alarm). Evidently instead switches from a p-value test to a distance
with a fixed threshold at 1,000 rows, which makes the verdict on the same drift jump at that size.

Default floors (``min_effect``), in each method's effect units; the numeric ones all correspond to a
shift of about 0.05 reference standard deviations of a normal column:

========== ======================================================= ===============
method     effect units                                            default floor
========== ======================================================= ===============
ks         KS statistic D (largest CDF gap)                        0.02
chi_square w_bal = sqrt(chi2 * N / (n * m)), not Cohen's w (see docs)  0.06
wasserstein Wasserstein distance / reference standard deviation    0.05
energy     energy distance / sqrt(reference standard deviation)    0.04
psi        population stability index on 10 reference-quantile bins 0.1 (industry rule)
js         Jensen-Shannon distance (base 2) on the same bins       0.1 (Evidently's)
========== ======================================================= ===============
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from plimsoll.stats._errors import StatsKindMismatch, StatsUnknownName
from plimsoll.stats.summaries import CategoricalSummary, ColumnSummary, NumericSummary

DISCRETE_MAX_VALUES = 10
COARSE_BINS = 10


@dataclass(frozen=True)
class Method:
    name: str
    kinds: frozenset[str]
    default_min_effect: float
    calibrated: bool
    """True when the threshold comes from resampling the reference (no closed-form null)."""


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("ks", frozenset({"numeric"}), 0.02, calibrated=False),
        Method("chi_square", frozenset({"numeric", "categorical"}), 0.06, calibrated=False),
        Method("wasserstein", frozenset({"numeric"}), 0.05, calibrated=True),
        Method("energy", frozenset({"numeric"}), 0.04, calibrated=True),
        Method("psi", frozenset({"numeric", "categorical"}), 0.1, calibrated=True),
        Method("js", frozenset({"numeric", "categorical"}), 0.1, calibrated=True),
    )
}


def default_method(reference: ColumnSummary) -> str:
    if isinstance(reference, CategoricalSummary):
        return "chi_square"
    if is_discrete(reference):
        return "chi_square"
    return "ks"


def is_discrete(summary: NumericSummary) -> bool:
    """At most ``DISCRETE_MAX_VALUES`` distinct values, every one of them on an edge."""
    counts = summary.counts
    if len(summary.edges) > DISCRETE_MAX_VALUES or counts[-1] != 0:
        return False
    return bool(np.array_equal(counts[:-1], summary.edge_counts))


def resolve_method(column: str, reference: ColumnSummary, requested: str | None) -> Method:
    name = default_method(reference) if requested in (None, "auto") else requested
    method = METHODS.get(str(name))
    if method is None:
        raise StatsUnknownName(
            f"column {column!r}: unknown drift method {name!r}; choose one of {sorted(METHODS)} or 'auto'",
            field=f"columns.{column}",
            details={"choices": [*sorted(METHODS), "auto"]},
        )
    if reference.kind not in method.kinds:
        raise StatsKindMismatch(
            f"column {column!r}: method {name!r} needs a {' or '.join(sorted(method.kinds))} column, "
            f"but the column is {reference.kind}",
            field=f"columns.{column}",
        )
    return method
