"""A watched column's distribution on both sides of a monitor, for the eye (no I/O): the
reference's summary and a window's (or merged windows') summary of one column, counted on the
same bins, so the two can be drawn over each other without reading a row.

    histograms(reference, current)   what the monitor page draws for one column

Three shapes, by what the reference's summary holds:

    discrete     a numeric column with at most `MAX_LABELS` distinct values, every one of them an
                 edge of the reference's histogram: a bar per value, counted exactly (the values
                 of the other side that the reference never had are counted together as "other")
    numeric      the reference's fine bins (its quantile edges, up to 2,048) coarsened to about
                 `DISPLAY_BINS` bins of near-equal width between the 1st and 99th percentiles of
                 both sides. Every display edge is one of the reference's edges, so each count is
                 exact (the windows of a monitor share the reference's edges); what lies below the
                 first display edge or above the last is counted apart ("below", "above")
    categorical  the labels of both sides, the most frequent first (up to `MAX_LABELS`, the rest
                 together as "(other labels)"), and which of them the reference never saw

Counts are given, not shares: a side's `finite` (numbers) or `present` (labels) is what a share is
of, and `missing` counts its nulls and NaN.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from plimsoll import stats

DISPLAY_BINS = 50
MAX_LABELS = 30
TAIL_QUANTILES = (0.01, 0.99)
OTHER_LABELS = "(other labels)"
OTHER_VALUES = "(other values)"


def histograms(
    reference: stats.ColumnSummary,
    current: stats.ColumnSummary | None,
    *,
    bins: int = DISPLAY_BINS,
    max_labels: int = MAX_LABELS,
) -> dict[str, Any]:
    """Both sides of one column on the same bins (`current` None: the reference alone, as before
    a window exists). A current side of another kind than the reference's is left out, and said."""
    note = ""
    if current is not None and current.kind != reference.kind:
        note = f"the window holds {current.kind} values where the reference has {reference.kind} ones"
        current = None
    if isinstance(reference, stats.CategoricalSummary):
        assert current is None or isinstance(current, stats.CategoricalSummary)
        found = _categorical(reference, current, max_labels)
    else:
        assert current is None or isinstance(current, stats.NumericSummary)
        if _discrete(reference, max_labels):
            found = _discrete_bars(reference, current)
        else:
            found = _numeric(reference, current, bins)
    if note:
        found["note"] = note
    return found


# -- numbers -----------------------------------------------------------------------------------------


def _discrete(summary: stats.NumericSummary, max_labels: int) -> bool:
    on_edges = int(np.asarray(summary.edge_counts, dtype=np.int64).sum())
    return 0 < len(summary.edges) <= max_labels and on_edges == summary.finite_count


def _discrete_bars(reference: stats.NumericSummary, current: stats.NumericSummary | None) -> dict[str, Any]:
    """A bar per value of the reference (each an edge of its histogram, counted exactly)."""
    labels = [_number(float(v)) for v in reference.edges]
    found: dict[str, Any] = {
        "kind": "discrete",
        "labels": [*labels, OTHER_VALUES],
        "reference": _numeric_side(reference, [*_edge_counts(reference, reference), 0]),
        "current": None,
    }
    if current is not None:
        counts = _edge_counts(current, reference)
        found["current"] = _numeric_side(current, [*counts, max(current.finite_count - sum(counts), 0)])
    return found


def _edge_counts(summary: stats.NumericSummary, reference: stats.NumericSummary) -> list[int]:
    """How many of `summary`'s values equal each of the reference's edges (0 where `summary` was
    binned on other edges and lacks that one)."""
    if np.array_equal(summary.edges, reference.edges):
        return [int(c) for c in summary.edge_counts]
    at = {float(e): int(c) for e, c in zip(summary.edges, summary.edge_counts, strict=True)}
    return [at.get(float(e), 0) for e in reference.edges]


def _numeric(
    reference: stats.NumericSummary, current: stats.NumericSummary | None, bins: int
) -> dict[str, Any]:
    found: dict[str, Any] = {"kind": "numeric", "edges": [], "reference": None, "current": None}
    edges = np.asarray(reference.edges, dtype=np.float64)
    sides = [s for s in (reference, current) if s is not None and s.finite_count]
    if len(edges) < 2 or not sides:
        found["reference"] = _numeric_side(reference, [])
        found["current"] = None if current is None else _numeric_side(current, [])
        return found
    low = min(_quantile(s, TAIL_QUANTILES[0]) for s in sides)
    high = max(_quantile(s, TAIL_QUANTILES[1]) for s in sides)
    display = _display_edges(edges, low, high, bins)
    found["edges"] = [float(e) for e in display]
    for name, side in (("reference", reference), ("current", current)):
        if side is None:
            continue
        below_each = _at_or_below(side, display)
        body = _numeric_side(side, [_count(b - a) for a, b in itertools.pairwise(below_each)])
        body["below"] = _count(below_each[0])
        body["above"] = _count(side.finite_count - below_each[-1])
        found[name] = body
    return found


def _display_edges(edges: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    """About `bins` of the reference's edges, spaced near-evenly from `low` to `high`: each step
    of an even grid moved to the first edge at or above it."""
    if not high > low:
        low, high = float(edges[0]), float(edges[-1])
    grid = np.linspace(low, high, bins + 1)
    chosen = np.unique(np.clip(np.searchsorted(edges, grid, side="left"), 0, len(edges) - 1))
    if len(chosen) < 2:  # everything between two neighbouring edges
        first = max(int(chosen[0]) - 1, 0)
        chosen = np.array([first, min(first + 1, len(edges) - 1)])
    return edges[chosen]


def _at_or_below(summary: stats.NumericSummary, points: np.ndarray) -> list[float]:
    """How many finite values of `summary` are at or below each point: exact at the summary's own
    edges (bin i of a histogram is (e[i-1], e[i]]), read between them by interpolation otherwise."""
    counts = np.asarray(summary.counts, dtype=np.int64)
    cumulative = np.cumsum(counts)[: len(summary.edges)].astype(np.float64)
    if len(summary.edges) == 0:
        return [0.0 for _ in points]
    exact = np.searchsorted(summary.edges, points)
    found = []
    for point, index in zip(points, exact, strict=True):
        if index < len(summary.edges) and summary.edges[index] == point:
            found.append(float(cumulative[index]))
        else:
            found.append(
                float(
                    np.interp(point, summary.edges, cumulative, left=0.0, right=float(summary.finite_count))
                )
            )
    return found


def _quantile(summary: stats.NumericSummary, q: float) -> float:
    value = summary.quantile(q)
    return float("nan") if value is None else float(value)


def _numeric_side(summary: stats.NumericSummary, counts: list[Any]) -> dict[str, Any]:
    return {
        "rows": summary.row_count,
        "finite": summary.finite_count,
        "missing": summary.missing_count,
        "infinite": summary.posinf_count + summary.neginf_count,
        "mean": _finite(summary.mean),
        "std": _finite(summary.std),
        "minimum": _finite(summary.minimum),
        "maximum": _finite(summary.maximum),
        "counts": counts,
    }


# -- labels ------------------------------------------------------------------------------------------


def _categorical(
    reference: stats.CategoricalSummary, current: stats.CategoricalSummary | None, max_labels: int
) -> dict[str, Any]:
    ref_counts = reference.as_dict()
    cur_counts = {} if current is None else current.as_dict()
    ref_present = max(reference.present_count, 1)
    cur_present = max(current.present_count, 1) if current is not None else 1

    def weight(label: str) -> tuple[float, str]:
        return (-max(ref_counts.get(label, 0) / ref_present, cur_counts.get(label, 0) / cur_present), label)

    ordered = sorted(set(ref_counts) | set(cur_counts), key=weight)
    shown = ordered[:max_labels]
    found: dict[str, Any] = {
        "kind": "categorical",
        "labels": [*shown, OTHER_LABELS],
        # A label the reference never had (only known when the reference kept every label).
        "unseen": [label not in ref_counts and not reference.truncated for label in shown] + [False],
        "reference": _label_side(reference, ref_counts, shown),
        "current": None if current is None else _label_side(current, cur_counts, shown),
    }
    return found


def _label_side(
    summary: stats.CategoricalSummary, counts: dict[str, int], shown: list[str]
) -> dict[str, Any]:
    kept = [counts.get(label, 0) for label in shown]
    return {
        "rows": summary.row_count,
        "present": summary.present_count,
        "missing": summary.missing_count,
        "distinct": summary.distinct_count,
        "counts": [*kept, max(summary.present_count - sum(kept), 0)],
    }


def _count(value: float) -> int | float:
    """A count as an integer when it is one (always, on the reference's own edges), else to a
    thousandth (read between edges); never below zero."""
    value = max(float(value), 0.0)
    return int(value) if value.is_integer() else round(value, 3)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _number(value: float) -> str:
    return f"{value:.6g}"
