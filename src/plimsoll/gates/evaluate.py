"""Judging: a policy and the evidence about a version (and its baseline's) -> one result per gate.
Pure functions: no storage, no clock (the caller says what time it is, for waivers).

Each kind of gate is a small registered function with the evidence it reads; every result says in
one sentence why it passed, failed or was skipped, and keeps the numbers it was judged on. A change
gate with no baseline, or a baseline with no evidence, is `skipped`, never passed in silence.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from plimsoll.gates.entities import MAX_EXAMPLES, Evidence, GateResult, Waiver
from plimsoll.gates.policy import Gate, Policy
from plimsoll.gates.vocabulary import higher_is_better


@dataclass(frozen=True)
class Baseline:
    """What a change gate compares with: the version the alias holds (None: it holds none) and
    that version's evidence (None: none was recorded)."""

    version: int | None
    evidence: Evidence | None = None
    label: str = ""  # how results name it, e.g. "churn/3 (production)"


NO_BASELINE = Baseline(None)

Judge = Callable[[Gate, Evidence, Baseline], GateResult]
JUDGES: dict[str, Judge] = {}


def judge(kind: str) -> Callable[[Judge], Judge]:
    def register(function: Judge) -> Judge:
        JUDGES[kind] = function
        return function

    return register


def evaluate(
    policy: Policy,
    evidence: Evidence,
    baseline: Baseline = NO_BASELINE,
    *,
    waivers: Sequence[Waiver] = (),
    now: int = 0,
) -> list[GateResult]:
    """One result per gate of `policy`, in its order. A failed gate under an active waiver (same
    gate name, not expired at `now`) is `waived`: it no longer blocks, and names the waiver."""
    results = []
    for gate in policy.gates:
        result = JUDGES[gate.kind](gate, evidence, baseline)
        result = replace(result, gate=gate.name, kind=gate.kind, severity=gate.severity, line=gate.line)
        if result.status == "failed":
            waiver = next((w for w in waivers if w.gate == gate.name and w.active(now)), None)
            if waiver is not None:
                result = replace(
                    result,
                    status="waived",
                    waiver=waiver.id,
                    reason=f"{result.reason} (waived by {waiver.approver} until {_iso(waiver.expires_at)}: {waiver.reason})",
                )
        results.append(result)
    return results


def _result(status: str, reason: str, **evidence: Any) -> GateResult:
    return GateResult("", "", "", status, reason, evidence)


def _bounds_text(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    return f"at least {low:g}" if low is not None else f"at most {high:g}"


def _within(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _threshold_result(name: str, value: float | None, gate: Gate, where: str) -> GateResult:
    expected = _bounds_text(gate.min, gate.max)
    if value is None:
        return _result(
            "failed",
            f"no evidence for {name} among {where}",
            measure=name,
            min=gate.min,
            max=gate.max,
        )
    passed = _within(value, gate.min, gate.max)
    reason = f"{name} is {value:g}, {'' if passed else 'not '}{expected}"
    return _result(
        "passed" if passed else "failed", reason, measure=name, value=value, min=gate.min, max=gate.max
    )


@judge("threshold")
def threshold(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """A metric within `min`/`max`."""
    assert gate.measure is not None
    return _threshold_result(gate.measure, evidence.metrics.get(gate.measure), gate, "the metrics")


@judge("latency")
def latency(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """A latency within its budget (`max`, milliseconds)."""
    assert gate.measure is not None
    return _threshold_result(gate.measure, evidence.latency.get(gate.measure), gate, "the latencies")


@judge("cost")
def cost(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """A cost within its budget (`max`)."""
    assert gate.measure is not None
    return _threshold_result(gate.measure, evidence.cost.get(gate.measure), gate, "the costs")


@judge("change")
def change(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """A metric no worse than the baseline's by more than `max_regression` (in the metric's units)
    or `max_regression_pct` (percent of the baseline's value); "worse" follows the metric's
    direction (lower for an error, higher for a score). Skipped without a baseline."""
    metric = gate.measure
    assert metric is not None
    limits = {"max_regression": gate.max_regression, "max_regression_pct": gate.max_regression_pct}
    if baseline.version is None:
        return _result(
            "skipped", "no baseline: the alias holds no version to compare with", metric=metric, **limits
        )
    label = baseline.label or f"version {baseline.version}"
    base = None if baseline.evidence is None else baseline.evidence.metrics.get(metric)
    if base is None:
        why = "has no recorded evidence" if baseline.evidence is None else f"has no value for {metric}"
        return _result(
            "skipped",
            f"the baseline {label} {why}: nothing to compare with",
            metric=metric,
            baseline_version=baseline.version,
            **limits,
        )
    value = evidence.metrics.get(metric)
    if value is None:
        return _result(
            "failed",
            f"no evidence for {metric} among the metrics",
            metric=metric,
            baseline=base,
            baseline_version=baseline.version,
            **limits,
        )
    worse = (base - value) if higher_is_better(metric) else (value - base)
    pct = (math.inf if worse > 0 else 0.0) if base == 0 else worse / abs(base) * 100
    failures = []
    if gate.max_regression is not None and worse > gate.max_regression:
        failures.append(f"more than {gate.max_regression:g}")
    if gate.max_regression_pct is not None and pct > gate.max_regression_pct:
        failures.append(f"more than {gate.max_regression_pct:g}%")
    if worse > 0:
        summary = f"{metric} is {value:g}, worse than the baseline {label}'s {base:g} by {worse:g}"
        summary += f" ({pct:.2f}%)" if math.isfinite(pct) else ""
    else:
        summary = f"{metric} is {value:g}, no worse than the baseline {label}'s {base:g}"
    if failures:
        summary += f": {' and '.join(failures)}"
    return _result(
        "failed" if failures else "passed",
        summary,
        metric=metric,
        value=value,
        baseline=base,
        baseline_version=baseline.version,
        regression=worse,
        regression_pct=pct if math.isfinite(pct) else None,
        **limits,
    )


@judge("slices")
def slices(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """A metric within `min`/`max` in every slice of a column that has at least `min_slice_size`
    rows; smaller slices are listed, not judged. Skipped when no slice is large enough."""
    metric, column = gate.measure, gate.slice
    assert metric is not None and column is not None
    groups = evidence.slices.get(column)
    if groups is None:
        return _result("failed", f"no evidence per slice of {column!r}", metric=metric, slice=column)
    judged: dict[str, float | None] = {}
    small: dict[str, int] = {}
    for group, entry in sorted(groups.items()):
        if entry.count < gate.min_slice_size:
            small[group] = entry.count
        else:
            judged[group] = entry.metrics.get(metric)
    failing = {g: v for g, v in judged.items() if v is None or not _within(v, gate.min, gate.max)}
    details = {
        "metric": metric,
        "slice": column,
        "min": gate.min,
        "max": gate.max,
        "min_slice_size": gate.min_slice_size,
        "judged": len(judged),
        "too_small": dict(list(small.items())[:MAX_EXAMPLES]),
        "failing": dict(list(failing.items())[:MAX_EXAMPLES]),
    }
    if not judged:
        reason = f"every slice of {column!r} has fewer than {gate.min_slice_size} rows: none was judged"
        return GateResult("", "", "", "skipped", reason, details)
    expected = _bounds_text(gate.min, gate.max)
    if failing:
        shown = ", ".join(
            f"{g}={'missing' if v is None else format(v, 'g')}" for g, v in list(failing.items())[:5]
        )
        reason = (
            f"{metric} is not {expected} in {len(failing)} of {len(judged)} slices of {column!r}: {shown}"
        )
        return GateResult("", "", "", "failed", reason, details)
    note = f" ({len(small)} smaller than {gate.min_slice_size} rows not judged)" if small else ""
    reason = f"{metric} is {expected} in all {len(judged)} slices of {column!r}{note}"
    return GateResult("", "", "", "passed", reason, details)


@judge("fairness")
def fairness(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """A fairness measure judged on its confidence bound, the one least favourable to the model:
    the upper bound against `max`, the lower bound against `min`. A measure reported without the
    bound it is judged on fails: a point estimate alone proves nothing about a small group."""
    name = gate.measure
    assert name is not None
    measured = evidence.fairness.get(name)
    if measured is None:
        return _result("failed", f"no evidence for {name}", measure=name, min=gate.min, max=gate.max)
    details = {
        "measure": name,
        "value": measured.value,
        "lower": measured.lower,
        "upper": measured.upper,
        "confidence": measured.confidence,
        "min": gate.min,
        "max": gate.max,
    }
    problems = []
    for limit, bound, side, compare in (
        (gate.max, measured.upper, "upper", operator.le),
        (gate.min, measured.lower, "lower", operator.ge),
    ):
        if limit is None:
            continue
        if bound is None:
            problems.append(f"no {side} confidence bound was reported (the gate judges it, not the value)")
        elif not compare(bound, limit):
            word = "above" if side == "upper" else "below"
            problems.append(f"its {side} bound {bound:g} is {word} {limit:g}")
    interval = (
        f"{measured.value:g} ({measured.confidence:.0%} CI {_fmt(measured.lower)} to {_fmt(measured.upper)})"
    )
    if problems:
        return GateResult("", "", "", "failed", f"{name} is {interval}: {'; '.join(problems)}", details)
    return GateResult(
        "",
        "",
        "",
        "passed",
        f"{name} is {interval}, {_bounds_text(gate.min, gate.max)} at the bound",
        details,
    )


def _fmt(value: float | None) -> str:
    return "?" if value is None else format(value, "g")


@judge("datasets")
def datasets(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """The training and evaluation dataset versions were validated, and passed."""
    states: dict[str, dict[str, Any]] = {}
    problems = []
    for role in gate.datasets:
        found = evidence.datasets.get(role)
        if found is None:
            problems.append(f"no {role} dataset version is known for this model version")
            states[role] = {"ref": None, "validation": None}
            continue
        states[role] = {"ref": found.ref, "digest": found.digest, "validation": found.validation}
        if found.validation is None:
            problems.append(f"the {role} dataset {found.ref} was never validated")
        elif found.validation != "passed":
            problems.append(f"the {role} dataset {found.ref} failed its validation")
    if problems:
        return GateResult("", "", "", "failed", "; ".join(problems), {"datasets": states})
    refs = ", ".join(f"{role} {state['ref']}" for role, state in states.items())
    return GateResult("", "", "", "passed", f"validation passed: {refs}", {"datasets": states})


@judge("safety")
def safety_gate(gate: Gate, evidence: Evidence, baseline: Baseline) -> GateResult:
    """Each output against every assertion; the share passing all of them at least `min_pass_rate`."""
    outputs = evidence.outputs
    names = [a.name for a in gate.assertions]
    if not outputs:
        return _result("failed", "no outputs to check: the evidence holds none", assertions=names)
    failures: list[dict[str, Any]] = []
    failed = 0
    by_assertion = dict.fromkeys(names, 0)
    for index, output in enumerate(outputs):
        why = []
        for item in gate.assertions:
            problem = item.check(output)
            if problem is not None:
                by_assertion[item.name] += 1
                why.append(f"{item.name}: {problem}")
        if why:
            failed += 1
            if len(failures) < MAX_EXAMPLES:
                failures.append({"output": index, "excerpt": output[:200], "failed": why})
    rate = (len(outputs) - failed) / len(outputs)
    passed = rate >= gate.min_pass_rate
    details = {
        "assertions": names,
        "outputs": len(outputs),
        "passed": len(outputs) - failed,
        "pass_rate": rate,
        "min_pass_rate": gate.min_pass_rate,
        "failures_by_assertion": by_assertion,
        "failures": failures,
    }
    reason = (
        f"{len(outputs) - failed} of {len(outputs)} outputs pass every assertion ({rate:.2%}); "
        f"{'at least' if passed else 'below'} {gate.min_pass_rate:.2%} required"
    )
    return GateResult("", "", "", "passed" if passed else "failed", reason, details)


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
