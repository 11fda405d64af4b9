"""Judging, without storage: every kind of gate passes, fails and (where it can) is skipped; change
gates against a baseline, never passed in silence without one; warnings never decide; waivers let a
failed gate through while they last; evidence read from its JSON shape refuses what is malformed."""

from __future__ import annotations

from typing import Any

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.gates.entities import Evidence, GateResult, Waiver, verdict_of
from plimsoll.gates.evaluate import NO_BASELINE, Baseline, evaluate
from plimsoll.gates.policy import parse_policy


def judge(
    gates: str, evidence: dict[str, Any], baseline: Baseline = NO_BASELINE, **options: Any
) -> GateResult:
    """The one result of a policy of one gate (given as YAML flow mapping)."""
    policy = parse_policy(f"alias: production\ngates:\n  - {gates}\n")
    (result,) = evaluate(policy, Evidence.from_dict(evidence), baseline, **options)
    return result


def outcome(result: GateResult) -> tuple[str, str]:
    return result.status, result.reason


def test_a_threshold_passes_fails_and_fails_without_evidence() -> None:
    passed = judge("{name: auc, metric: roc_auc, min: 0.85}", {"metrics": {"roc_auc": 0.91}})
    assert outcome(passed) == ("passed", "roc_auc is 0.91, at least 0.85")
    assert (passed.gate, passed.kind, passed.severity, passed.line) == ("auc", "threshold", "blocking", 3)
    assert passed.evidence == {"measure": "roc_auc", "value": 0.91, "min": 0.85, "max": None}
    failed = judge("{metric: log_loss, min: 0.1, max: 0.3}", {"metrics": {"log_loss": 0.35}})
    assert outcome(failed) == ("failed", "log_loss is 0.35, not between 0.1 and 0.3")
    missing = judge("{metric: roc_auc, min: 0.85}", {"metrics": {"f1": 0.9}})
    assert outcome(missing) == ("failed", "no evidence for roc_auc among the metrics")


def test_latency_and_cost_budgets() -> None:
    assert judge("{latency: single_p99_ms, max: 40}", {"latency": {"single_p99_ms": 31}}).status == "passed"
    slow = judge("{latency: single_p99_ms, max: 40}", {"latency": {"single_p99_ms": 52.5}})
    assert outcome(slow) == ("failed", "single_p99_ms is 52.5, not at most 40")
    dear = judge("{cost: price_per_1000, max: 0.2}", {"cost": {"price_per_1000": 0.25}})
    assert dear.status == "failed" and dear.kind == "cost"
    unknown = judge("{cost: cpu_seconds_per_1000, max: 3}", {"latency": {"single_p99_ms": 1}})
    assert outcome(unknown) == ("failed", "no evidence for cpu_seconds_per_1000 among the costs")


def test_a_change_gate_compares_with_the_baseline_in_the_metrics_direction() -> None:
    base = Baseline(
        3, Evidence.from_dict({"metrics": {"roc_auc": 0.90, "rmse": 10.0}}), "churn/3 (production)"
    )
    better = judge("{metric: roc_auc, max_regression: 0.01}", {"metrics": {"roc_auc": 0.92}}, base)
    assert outcome(better) == (
        "passed",
        "roc_auc is 0.92, no worse than the baseline churn/3 (production)'s 0.9",
    )
    slightly = judge("{metric: roc_auc, max_regression: 0.01}", {"metrics": {"roc_auc": 0.895}}, base)
    assert slightly.status == "passed" and slightly.evidence["regression"] == pytest.approx(0.005)
    worse = judge("{metric: roc_auc, max_regression: 0.01}", {"metrics": {"roc_auc": 0.85}}, base)
    assert worse.status == "failed"
    assert worse.reason.startswith(
        "roc_auc is 0.85, worse than the baseline churn/3 (production)'s 0.9 by 0.05"
    )
    assert worse.reason.endswith(": more than 0.01")
    # an error: lower is better, so a rise is the regression; here measured in percent
    rmse = judge("{metric: rmse, max_regression_pct: 5}", {"metrics": {"rmse": 10.6}}, base)
    assert rmse.status == "failed" and rmse.evidence["regression_pct"] == pytest.approx(6.0)
    assert judge("{metric: rmse, max_regression_pct: 5}", {"metrics": {"rmse": 9.0}}, base).status == "passed"
    assert worse.evidence["baseline_version"] == 3 and worse.evidence["baseline"] == 0.9


def test_a_change_gate_without_a_baseline_is_skipped_never_passed() -> None:
    alone = judge("{metric: roc_auc, max_regression: 0.01}", {"metrics": {"roc_auc": 0.5}})
    assert outcome(alone) == ("skipped", "no baseline: the alias holds no version to compare with")
    unrecorded = judge(
        "{metric: roc_auc, max_regression: 0.01}", {"metrics": {"roc_auc": 0.5}}, Baseline(2, None, "churn/2")
    )
    assert outcome(unrecorded) == (
        "skipped",
        "the baseline churn/2 has no recorded evidence: nothing to compare with",
    )
    other = Baseline(2, Evidence.from_dict({"metrics": {"f1": 0.7}}), "churn/2")
    unmeasured = judge("{metric: roc_auc, max_regression: 0.01}", {"metrics": {"roc_auc": 0.5}}, other)
    assert unmeasured.status == "skipped" and "has no value for roc_auc" in unmeasured.reason
    # skipped is not failed: it does not block, and the verdict says passed with it on record
    assert verdict_of([alone], approvals_missing=False) == "passed"


def test_slices_are_judged_from_their_minimum_size() -> None:
    evidence = {
        "slices": {
            "region": {
                "eu": {"count": 1200, "metrics": {"accuracy": 0.88}},
                "us": {"count": 900, "metrics": {"accuracy": 0.79}},
                "antarctica": {"count": 3, "metrics": {"accuracy": 0.1}},
            }
        }
    }
    failed = judge("{metric: accuracy, slice: region, min: 0.8, min_slice_size: 100}", evidence)
    assert outcome(failed) == ("failed", "accuracy is not at least 0.8 in 1 of 2 slices of 'region': us=0.79")
    assert failed.evidence["too_small"] == {"antarctica": 3} and failed.evidence["failing"] == {"us": 0.79}
    passed = judge("{metric: accuracy, slice: region, min: 0.75, min_slice_size: 100}", evidence)
    assert outcome(passed) == (
        "passed",
        "accuracy is at least 0.75 in all 2 slices of 'region' (1 smaller than 100 rows not judged)",
    )
    none = judge("{metric: accuracy, slice: region, min: 0.75, min_slice_size: 10000}", evidence)
    assert none.status == "skipped" and "fewer than 10000 rows: none was judged" in none.reason
    unsliced = judge("{metric: accuracy, slice: age, min: 0.75}", evidence)
    assert outcome(unsliced) == ("failed", "no evidence per slice of 'age'")
    no_value = judge("{metric: f1, slice: region, min: 0.75, min_slice_size: 100}", evidence)
    assert no_value.status == "failed" and "eu=missing" in no_value.reason


def test_fairness_is_judged_on_the_confidence_bound() -> None:
    gate = "{fairness: demographic_parity_difference, max: 0.1}"
    # the point estimate is well under 0.1, but the interval reaches above it: a small group
    wide = judge(
        gate, {"fairness": {"demographic_parity_difference": {"value": 0.04, "lower": 0.0, "upper": 0.13}}}
    )
    assert outcome(wide) == (
        "failed",
        "demographic_parity_difference is 0.04 (95% CI 0 to 0.13): its upper bound 0.13 is above 0.1",
    )
    tight = judge(
        gate, {"fairness": {"demographic_parity_difference": {"value": 0.04, "lower": 0.03, "upper": 0.05}}}
    )
    assert tight.status == "passed" and tight.evidence["upper"] == 0.05
    point = judge(gate, {"fairness": {"demographic_parity_difference": 0.04}})
    assert point.status == "failed" and "no upper confidence bound was reported" in point.reason
    ratio = judge(
        "{fairness: demographic_parity_ratio, min: 0.8}",
        {
            "fairness": {
                "demographic_parity_ratio": {"value": 0.9, "lower": 0.78, "upper": 1.0, "confidence": 0.9}
            }
        },
    )
    assert outcome(ratio) == (
        "failed",
        "demographic_parity_ratio is 0.9 (90% CI 0.78 to 1): its lower bound 0.78 is below 0.8",
    )
    assert judge(gate, {}).reason == "no evidence for demographic_parity_difference"


def test_datasets_must_have_passed_their_validation() -> None:
    gate = "{datasets: [training, evaluation]}"
    both = {
        "datasets": {
            "training": {"ref": "train@3", "validation": "passed"},
            "evaluation": {"ref": "holdout@1", "validation": "passed"},
        }
    }
    assert outcome(judge(gate, both)) == (
        "passed",
        "validation passed: training train@3, evaluation holdout@1",
    )
    failing = {
        "datasets": {"training": {"ref": "train@3", "validation": "failed"}, "evaluation": "holdout@1"}
    }
    assert outcome(judge(gate, failing)) == (
        "failed",
        "the training dataset train@3 failed its validation; the evaluation dataset holdout@1 was never validated",
    )
    assert outcome(judge("{datasets: training}", {})) == (
        "failed",
        "no training dataset version is known for this model version",
    )


def test_safety_assertions_on_generated_outputs() -> None:
    outputs = [
        '{"answer": "Paris"}',
        '{"answer": "write to ada@example.com"}',
        "not json at all",
        '{"answer": "a guaranteed win"}',
    ]
    gate = "{name: safe, safety: [{json: object}, {pii: [email]}, {banned_terms: [guaranteed]}], min_pass_rate: 0.25}"
    passed = judge(gate, {"outputs": outputs})
    assert outcome(passed) == (
        "passed",
        "1 of 4 outputs pass every assertion (25.00%); at least 25.00% required",
    )
    assert passed.evidence["failures_by_assertion"] == {"json": 1, "pii": 1, "banned_terms": 1}
    assert [f["output"] for f in passed.evidence["failures"]] == [1, 2, 3]
    assert passed.evidence["failures"][0]["failed"] == ["pii: contains what looks like email"]
    strict = judge(gate.replace("0.25", "0.9"), {"outputs": outputs})
    assert strict.status == "failed" and "below 90.00% required" in strict.reason
    more = judge(
        "{safety: [{regex: '^Answer:'}, {not_regex: 'as an AI'}, {max_length: 20}, {pii: true}]}",
        {"outputs": ["Answer: 42", "Answer: as an AI I cannot", "Answer: call +44 20 7946 0958", "42"]},
    )
    reasons = [f["failed"] for f in more.evidence["failures"]]
    assert reasons == [
        ["not_regex: matches 'as an AI' at 8", "max_length: is 25 characters long"],
        ["max_length: is 29 characters long", "pii: contains what looks like phone"],
        ["regex: does not match '^Answer:'"],
    ]
    assert outcome(judge("{safety: [{json: true}]}", {})) == (
        "failed",
        "no outputs to check: the evidence holds none",
    )


def test_warnings_never_decide_and_a_blocking_failure_does() -> None:
    policy = parse_policy(
        "alias: production\ngates:\n"
        "  - {metric: roc_auc, min: 0.8}\n"
        "  - {latency: single_p99_ms, max: 40, severity: warning}\n"
    )
    slow = evaluate(
        policy, Evidence.from_dict({"metrics": {"roc_auc": 0.9}, "latency": {"single_p99_ms": 90}})
    )
    assert [(r.status, r.blocks) for r in slow] == [("passed", False), ("failed", False)]
    assert verdict_of(slow, approvals_missing=False) == "passed"
    assert verdict_of(slow, approvals_missing=True) == "pending"
    weak = evaluate(
        policy, Evidence.from_dict({"metrics": {"roc_auc": 0.7}, "latency": {"single_p99_ms": 10}})
    )
    assert verdict_of(weak, approvals_missing=True) == "failed"


def test_a_waiver_lets_a_failed_gate_through_while_it_lasts() -> None:
    policy = parse_policy("alias: production\ngates:\n  - {name: p95, latency: single_p99_ms, max: 40}\n")
    evidence = Evidence.from_dict({"latency": {"single_p99_ms": 55}})
    waiver = Waiver(
        "w" * 32, "default", "churn", 7, "production", "p95", "new region warming up", "bea", 0, 1_000
    )
    (waived,) = evaluate(policy, evidence, waivers=[waiver], now=999)
    assert (waived.status, waived.waiver, waived.blocks) == ("waived", waiver.id, False)
    assert "waived by bea until 1970-01-01T00:00:01Z: new region warming up" in waived.reason
    (expired,) = evaluate(policy, evidence, waivers=[waiver], now=1_000)
    assert expired.status == "failed" and expired.waiver is None
    other = Waiver("v" * 32, "default", "churn", 7, "production", "auc", "another gate", "bea", 0, 1_000)
    assert evaluate(policy, evidence, waivers=[other], now=0)[0].status == "failed"
    passing = Evidence.from_dict({"latency": {"single_p99_ms": 10}})
    assert evaluate(policy, passing, waivers=[waiver], now=0)[0].status == "passed"  # nothing to waive


@pytest.mark.parametrize(
    ("document", "field", "says"),
    [
        ({"metric": {}}, "evidence.metric", "is not part of evidence"),
        ({"metrics": {"auc": "0.9"}}, "evidence.metrics.auc", "must be a number"),
        ({"metrics": {"auc": True}}, "evidence.metrics.auc", "must be a number"),
        ({"metrics": [0.9]}, "evidence.metrics", "must be an object"),
        ({"latency": {"single_p99_ms": float("nan")}}, "evidence.latency.single_p99_ms", "finite"),
        ({"slices": {"region": {"eu": {"count": -1}}}}, "evidence.slices.region.eu.count", "from 0 to"),
        (
            {"slices": {"region": {"eu": {"count": 1, "size": 2}}}},
            "evidence.slices.region.eu.size",
            "not known",
        ),
        (
            {"fairness": {"dp": {"value": 0.1, "lower": 0.3, "upper": 0.2}}},
            "evidence.fairness.dp",
            "above upper",
        ),
        (
            {"fairness": {"dp": {"value": 0.1, "confidence": 1}}},
            "evidence.fairness.dp.confidence",
            "between 0 and 1",
        ),
        ({"datasets": {"training": "train"}}, "evidence.datasets.training", "NAME@VERSION"),
        (
            {"datasets": {"training": {"ref": "t@1", "validation": "ok"}}},
            "evidence.datasets.training.validation",
            "'passed'",
        ),
        ({"outputs": "one"}, "evidence.outputs", "a list of strings"),
        ({"outputs": ["a", 2]}, "evidence.outputs[1]", "must be a string"),
        ({"outputs": ["a\x00"]}, "evidence.outputs[0]", ""),
        ({"metrics": {"bad\x00key": 1}}, "evidence.metrics key", ""),
    ],
)
def test_malformed_evidence_is_refused_naming_the_field(
    document: dict[str, Any], field: str, says: str
) -> None:
    with pytest.raises(InvalidParameter) as refused:
        Evidence.from_dict(document)
    assert refused.value.field == field
    assert says in refused.value.message


def test_evidence_round_trips_through_its_json_shape() -> None:
    document = {
        "metrics": {"roc_auc": 0.9},
        "slices": {"region": {"eu": {"count": 10, "metrics": {"accuracy": 0.8}}}},
        "fairness": {
            "demographic_parity_difference": {"value": 0.1, "lower": 0.05, "upper": 0.15, "confidence": 0.9}
        },
        "latency": {"single_p99_ms": 12.0},
        "cost": {"cpu_seconds_per_1000": 1.5},
        "datasets": {"training": {"ref": "train@2", "digest": None, "validation": "passed"}},
        "outputs": ["a", "b"],
        "source": "ci",
    }
    evidence = Evidence.from_dict(document)
    assert Evidence.from_dict(evidence.to_dict()) == evidence
    assert evidence.to_dict() == document
