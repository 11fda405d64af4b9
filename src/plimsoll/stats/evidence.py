"""What one column's data says, before the dataset-level decision: statistic, p-value, critical values.

``column_evidence`` computes, for one method, the statistic (from summaries, or exactly from raw
arrays when given), its p-value under "no drift", a function giving the critical value at any level
(multiple-testing control decides the level later), the effect size and its floor, and the bound on
the statistic's error when it came from binned summaries.

Chi-square tables pool sparse cells: every cell whose expected count in the smaller sample is below
``min_expected`` (default 5, the usual rule for the chi-square approximation) goes into one pooled
cell, and that cell joins the smallest other one if it is still sparse.

Re-binned summaries: when either side was moved onto other edges (``rebin_share > 0``), the p-value
is that of the statistic recomputed on ``binned.conservative_current`` cells, and ``slack`` says how
much re-binning may have inflated the reported statistic; ``drift.decide`` judges
``statistic - slack``. Without re-binning ``slack`` is 0: binned statistics on shared edges are
exact for the binned data (and KS can only be smaller than on the raw data). Truncated label counts
(a merge of summaries that folded labels into "other", ``count_error > 0``) are judged the same
way, on ``label_tables.cautious_category_table``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from plimsoll.stats import binned, distances
from plimsoll.stats.calibration import NullTail, null_tail
from plimsoll.stats.label_tables import category_table, cautious_category_table
from plimsoll.stats.selection import COARSE_BINS, Method
from plimsoll.stats.summaries import CategoricalSummary, ColumnSummary, NumericSummary

FloatArray = NDArray[np.float64]
KS_FINITE_LIMIT = 10_000


@dataclass(frozen=True)
class Evidence:
    method: str
    statistic: float
    p_value: float
    critical_value: Callable[[float], float]
    effect_size: float
    min_effect: float
    to_effect: Callable[[float], float]
    """Maps a statistic to effect units; its inverse at ``min_effect`` is the statistic floor."""
    statistic_floor: float
    n_reference: int
    n_current: int
    error_bound: float
    details: dict[str, float] = field(default_factory=dict)
    slack: float = 0.0
    """How much re-binning or truncation may have pushed ``statistic`` up; verdicts use
    ``statistic - slack``."""
    slack_name: str = "rebin_slack"
    """The key under which ``details`` reports ``slack``."""


@dataclass(frozen=True)
class RawSamples:
    """Finite reference and current values, when the caller has them, for exact statistics."""

    reference: FloatArray
    current: FloatArray


def column_evidence(
    method: Method,
    reference: ColumnSummary,
    current: ColumnSummary,
    *,
    min_effect: float | None,
    n_resamples: int,
    rng: np.random.Generator,
    min_expected: float,
    raw: RawSamples | None = None,
    tail_level: float | None = None,
) -> Evidence:
    """``tail_level``: the smallest level the p-value may be tested at (``alpha / columns`` under
    multiple-testing control); calibrated methods draw enough null resamples for it
    (``calibration.resample_count``)."""
    floor = method.default_min_effect if min_effect is None else min_effect
    null = _Null(n_resamples, tail_level)
    if isinstance(reference, NumericSummary) and isinstance(current, NumericSummary):
        return _numeric(method, reference, current, floor, null, rng, min_expected, raw)
    assert isinstance(reference, CategoricalSummary) and isinstance(current, CategoricalSummary)
    table = category_table(reference, current)
    errors = (reference.count_error, current.count_error)
    if not any(errors):
        return _from_cells(method, table[0], table[1], floor, null, rng, min_expected)
    # The same seed for both runs, so calibrated nulls match and only the tables differ.
    seed = int(rng.integers(2**63))
    estimate = _from_cells(method, table[0], table[1], floor, null, np.random.default_rng(seed), min_expected)
    moved = cautious_category_table(table, errors)
    cautious = _from_cells(method, moved[0], moved[1], floor, null, np.random.default_rng(seed), min_expected)
    shares = max(reference.share_error, current.share_error)
    return _judged_cautiously(estimate, cautious, "truncation_slack", {"count_error_share": shares})


@dataclass(frozen=True)
class _Null:
    """How many null resamples calibrated methods draw: at least ``n_resamples``, more for ``tail_level``."""

    n_resamples: int
    tail_level: float | None


def _identity(value: float) -> float:
    return value


def _numeric(
    method: Method,
    reference: NumericSummary,
    current: NumericSummary,
    floor: float,
    null: _Null,
    rng: np.random.Generator,
    min_expected: float,
    raw: RawSamples | None,
) -> Evidence:
    pair = binned.pair(reference, current)
    if raw is not None or pair.rebin_share <= 0:
        return _numeric_on(method, pair, pair.current_cells, floor, null, rng, min_expected, raw)
    # The same seed for both runs, so calibrated nulls match and only the current cells differ.
    seed = int(rng.integers(2**63))
    estimate = _numeric_on(
        method, pair, pair.current_cells, floor, null, np.random.default_rng(seed), min_expected, None
    )
    cautious = _numeric_on(
        method, pair, binned.conservative_current(pair), floor, null,
        np.random.default_rng(seed), min_expected, None,
    )  # fmt: skip
    return _judged_cautiously(estimate, cautious, "rebin_slack", {"rebin_share": pair.rebin_share})


def _judged_cautiously(
    estimate: Evidence, cautious: Evidence, slack_name: str, details: dict[str, float]
) -> Evidence:
    """The statistic as estimated, judged by the cautious one's p-value and reduced by the gap."""
    return replace(
        cautious,
        statistic=estimate.statistic,
        effect_size=estimate.effect_size,
        error_bound=estimate.error_bound,
        slack=max(estimate.statistic - cautious.statistic, 0.0),
        slack_name=slack_name,
        details={**estimate.details, **details},
    )


def _numeric_on(
    method: Method,
    pair: binned.BinnedPair,
    current_cells: FloatArray,
    floor: float,
    null: _Null,
    rng: np.random.Generator,
    min_expected: float,
    raw: RawSamples | None,
) -> Evidence:
    n, m = pair.sizes
    if method.name in ("chi_square", "psi", "js"):
        ref_cells, cur_cells = pair.reference_cells, current_cells
        # Fine cells are the exact distribution when every reference value sits on an edge; otherwise
        # they are too sparse for these tests, so whole bins are grouped to ~1/10 of the reference each.
        on_edges = not ref_cells[0::2].any()
        if method.name != "chi_square" or not on_edges:
            starts = binned.coarse_groups(ref_cells, COARSE_BINS)
            ref_cells, cur_cells = binned.group(ref_cells, starts), binned.group(cur_cells, starts)
        # Bins are whole reference bins, so these statistics are exact for the binned data.
        return _from_cells(method, ref_cells, cur_cells, floor, null, rng, min_expected)
    if method.name == "ks":
        # Raw samples: scipy's default p-value (exact up to 10,000 rows a side, asymptotic above).
        # Summaries: the asymptotic one, with the limiting distribution above KS_FINITE_LIMIT so that a
        # 1M-row comparison never evaluates a finite-size distribution (see distances.ks_p_value).
        ks_method, limit = ("auto", None) if raw is not None else ("asymp", KS_FINITE_LIMIT)
        statistic = (
            distances.ks_statistic(raw.reference, raw.current)
            if raw
            else float(binned.ks(pair.reference_cells, current_cells))
        )
        return Evidence(
            method="ks",
            statistic=statistic,
            p_value=distances.ks_p_value(statistic, n, m, method=ks_method, finite_limit=limit),
            critical_value=lambda alpha: distances.ks_critical_value(
                alpha, n, m, method=ks_method, finite_limit=limit
            ),
            effect_size=statistic,
            min_effect=floor,
            to_effect=_identity,
            statistic_floor=floor,
            n_reference=n,
            n_current=m,
            error_bound=0.0 if raw is not None else binned.ks_bound(pair),
        )
    scale = pair.reference_std if pair.reference_std > 0 else pair.pooled_std
    scale = scale if scale > 0 else 1.0
    widths = pair.widths
    if method.name == "wasserstein":
        norm = scale
        raw_value = distances.wasserstein_distance(raw.reference, raw.current) if raw else None
        binned_fn = binned.wasserstein
        bound = binned.wasserstein_bound(pair) / norm
    else:
        norm = math.sqrt(scale)
        raw_value = distances.energy_distance(raw.reference, raw.current) if raw else None
        binned_fn = binned.energy
        bound = binned.energy_bound(pair) / norm

    def on_cells(ref_cells: FloatArray, cur_cells: FloatArray) -> FloatArray:
        return binned_fn(ref_cells, cur_cells, widths) / norm

    observed = (
        raw_value / norm if raw_value is not None else float(on_cells(pair.reference_cells, current_cells))
    )
    # Raw samples or summaries, the null is drawn the same way: from the reference's fine cells.
    tail = null_tail(
        on_cells, pair.reference_cells, n, m,
        n_resamples=null.n_resamples, tail_level=null.tail_level, rng=rng,
        current_cells=pair.current_cells, observed=observed,
    )  # fmt: skip
    return _calibrated(
        method.name, observed, tail, floor, n, m,
        error_bound=0.0 if raw_value is not None else bound,
        details={"scale": scale},
    )  # fmt: skip


def _from_cells(
    method: Method,
    ref_cells: FloatArray,
    cur_cells: FloatArray,
    floor: float,
    null: _Null,
    rng: np.random.Generator,
    min_expected: float,
) -> Evidence:
    n, m = round(float(ref_cells.sum())), round(float(cur_cells.sum()))
    if method.name == "chi_square":
        table = pool_sparse(np.vstack((ref_cells, cur_cells)), min_expected)
        statistic, dof = distances.chi_square(table)
        total = n + m
        balance = total / (n * m)

        def to_w(value: float) -> float:
            return math.sqrt(max(value, 0.0) * balance)

        return Evidence(
            method="chi_square",
            statistic=statistic,
            p_value=distances.chi_square_p_value(statistic, dof),
            critical_value=lambda alpha: distances.chi_square_critical_value(alpha, dof),
            effect_size=to_w(statistic),
            min_effect=floor,
            to_effect=to_w,
            statistic_floor=floor * floor / balance,
            n_reference=n,
            n_current=m,
            error_bound=0.0,
            details={"dof": float(dof), "cells": float(table.shape[1])},
        )
    rows_fn = distances.psi_rows if method.name == "psi" else distances.jensen_shannon_rows
    statistic = float(rows_fn(ref_cells, cur_cells))
    tail = null_tail(
        rows_fn, ref_cells, n, m, n_resamples=null.n_resamples, tail_level=null.tail_level, rng=rng,
        current_cells=cur_cells, observed=statistic,
    )  # fmt: skip
    return _calibrated(
        method.name, statistic, tail, floor, n, m, error_bound=0.0, details={"bins": float(len(ref_cells))}
    )


def _calibrated(
    name: str,
    statistic: float,
    tail: NullTail,
    floor: float,
    n: int,
    m: int,
    *,
    error_bound: float,
    details: dict[str, float],
) -> Evidence:
    """Evidence for a distance judged against its resampled null: the statistic is its own effect."""
    return Evidence(
        method=name,
        statistic=statistic,
        p_value=tail.p_value(statistic),
        critical_value=tail.critical_value,
        effect_size=statistic,
        min_effect=floor,
        to_effect=_identity,
        statistic_floor=floor,
        n_reference=n,
        n_current=m,
        error_bound=error_bound,
        details={**details, "resamples": float(tail.resamples)},
    )


def pool_sparse(table: FloatArray, min_expected: float) -> FloatArray:
    table = table[:, table.sum(axis=0) > 0]
    if min_expected <= 0 or table.shape[1] <= 2:
        return table
    rows = table.sum(axis=1)
    expected_low = table.sum(axis=0) * rows.min() / rows.sum()
    sparse = expected_low < min_expected
    if not sparse.any():
        return table
    pooled = table[:, sparse].sum(axis=1, keepdims=True)
    kept = table[:, ~sparse]
    if kept.shape[1] and pooled.sum() * rows.min() / rows.sum() < min_expected:
        smallest = int(np.argmin(kept.sum(axis=0)))
        kept = kept.copy()
        kept[:, smallest : smallest + 1] += pooled
        return kept
    return np.hstack((kept, pooled))
