"""A release policy read from YAML: every kind of gate, its defaults, and every refusal naming the
line and column where the problem is."""

from __future__ import annotations

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.gates import safety
from plimsoll.gates.policy import DAY_MS, parse_policy, policy_digest
from plimsoll.gates.vocabulary import QUALITY_METRICS, higher_is_better

FULL = """\
model: churn
alias: production
approvals:
  required: 2
  expires_after: 12h
  approvers: [ana, ben, cy]
gates:
  - {name: auc, metric: roc_auc, min: 0.85}
  - {metric: roc_auc, max_regression: 0.01}
  - {metric: rmse, max_regression_pct: 5}
  - {metric: accuracy, slice: region, min: 0.8, min_slice_size: 200}
  - {fairness: demographic_parity_difference, max: 0.1, severity: warning}
  - {latency: single_p99_ms, max: 40}
  - {cost: price_per_1000, max: 0.2}
  - datasets: [training, evaluation]
  - name: safe
    safety:
      - json: object
      - pii: [email, phone]
      - banned_terms: [guaranteed]
      - regex: '"answer"'
      - not_regex: 'as an AI'
      - max_length: 2000
    min_pass_rate: 0.99
"""


def test_every_kind_of_gate_reads_with_its_line_and_defaults() -> None:
    policy = parse_policy(FULL)
    assert (policy.model, policy.alias, policy.digest) == ("churn", "production", policy_digest(FULL))
    assert (policy.approvals.required, policy.approvals.expires_after_ms) == (2, DAY_MS // 2)
    assert policy.approvals.approvers == ("ana", "ben", "cy")
    kinds = [(g.name, g.kind, g.severity, g.line) for g in policy.gates]
    assert kinds == [
        ("auc", "threshold", "blocking", 8),
        ("roc_auc change", "change", "blocking", 9),
        ("rmse change", "change", "blocking", 10),
        ("accuracy by region", "slices", "blocking", 11),
        ("demographic_parity_difference", "fairness", "warning", 12),
        ("single_p99_ms", "latency", "blocking", 13),
        ("price_per_1000", "cost", "blocking", 14),
        ("datasets", "datasets", "blocking", 15),
        ("safe", "safety", "blocking", 16),
    ]
    slices = policy.gate("accuracy by region")
    assert slices is not None and (slices.slice, slices.min, slices.min_slice_size) == ("region", 0.8, 200)
    safe = policy.gate("safe")
    assert safe is not None and [a.name for a in safe.assertions] == [
        "json",
        "pii",
        "banned_terms",
        "regex",
        "not_regex",
        "max_length",
    ]
    assert safe.min_pass_rate == 0.99


def test_no_approvals_by_default_and_a_week_when_required() -> None:
    bare = parse_policy("alias: staging\ngates:\n  - {metric: f1, min: 0.5}\n")
    assert (bare.model, bare.approvals.required, bare.approvals.approvers) == (None, 0, ())
    required = parse_policy("alias: staging\napprovals: {required: 1}\ngates:\n  - {metric: f1, min: 0.5}\n")
    assert required.approvals.expires_after_ms == 7 * DAY_MS


@pytest.mark.parametrize(
    ("text", "line", "column", "says"),
    [
        ("alias: production\ngates:\n  - metric: roc_auc\n    min: [0.8\n", 5, 1, "not valid YAML"),
        ("alias: production\ngates:\n\t- metric: roc_auc\n", 3, 1, "not valid YAML"),
        ("alias: production\ngates:\n  - metric: aucc\n    min: 0.8\n", 3, 13, "unknown metric 'aucc'"),
        ("alias: production\ngates:\n  - metric: accuracy\n    mni: 0.8\n", 4, 5, "unknown key `mni`"),
        ("alias: production\ngates:\n  - {fairness: parity, max: 0.1}\n", 3, 16, "unknown fairness measure"),
        ("alias: production\ngates:\n  - {latency: p42_ms, max: 10}\n", 3, 15, "unknown latency measure"),
        ("alias: production\ngates:\n  - {cost: dollars, max: 1}\n", 3, 12, "unknown cost measure"),
        ("alias: production\ngates:\n  - {metric: f1, min: high}\n", 3, 23, "must be a finite number"),
        ("alias: production\ngates:\n  - {metric: f1}\n", 3, 5, "needs `min`, `max` or both"),
        (
            "alias: production\ngates:\n  - {metric: f1, min: 0.9, max: 0.1}\n",
            3,
            23,
            "min 0.9 is above max 0.1",
        ),
        (
            "alias: production\ngates:\n  - {metric: f1, fairness: accuracy_difference, max: 1}\n",
            3,
            5,
            "one thing",
        ),
        ("alias: production\ngates:\n  - {latency: single_p99_ms}\n", 3, 5, "needs `max`"),
        ("alias: production\ngates:\n  - {datasets: [train]}\n", 3, 17, "unknown dataset role 'train'"),
        ("alias: production\ngates:\n  - {metric: f1, min: 0, severity: fatal}\n", 3, 36, "severity 'fatal'"),
        ("alias: production\ngates:\n  - {metric: f1, max_regression: -1}\n", 3, 34, "0 or more"),
        (
            "alias: production\ngates:\n  - {metric: f1, min: 0}\n  - {metric: f1, max: 1}\n",
            4,
            5,
            "already on line 3",
        ),
        ("alias: production\ngates:\n  - safety: [{regex: '('}]\n", 3, 22, "not a regular expression"),
        (
            "alias: production\ngates:\n  - safety: [{toxicity: true}]\n",
            3,
            14,
            "unknown safety assertion 'toxicity'",
        ),
        ("alias: production\ngates:\n  - safety: [{pii: [passport]}]\n", 3, 20, "knows no 'passport'"),
        (
            "alias: production\ngates:\n  - {safety: [{json: true}], min_pass_rate: 2}\n",
            3,
            45,
            "a share from 0 to 1, got 2",
        ),
        ("alias: Production\ngates:\n  - {metric: f1, min: 0}\n", 1, 8, "not a lowercase word"),
        ("gates:\n  - {metric: f1, min: 0}\n", 1, 1, "names no `alias`"),
        ("alias: production\n", 1, 1, "has no `gates`"),
        ("alias: production\ngates: []\n", 2, 8, "at least one gate"),
        ("alias: production\nowner: ada\ngates: []\n", 2, 1, "unknown key `owner`"),
        ("alias: production\nalias: staging\ngates: []\n", 2, 1, "`alias` is given twice"),
        (
            "alias: production\napprovals: {required: 3, approvers: [ana]}\ngates: [{metric: f1, min: 0}]\n",
            2,
            12,
            "names only 1",
        ),
        (
            "alias: production\napprovals: {expires_after: forever}\ngates: [{metric: f1, min: 0}]\n",
            2,
            28,
            "not a duration",
        ),
        (
            "alias: production\napprovals: {required: -1}\ngates: [{metric: f1, min: 0}]\n",
            2,
            23,
            "from 0 to 20",
        ),
        ("- just\n- a list\n", 1, 1, "must be a mapping"),
    ],
)
def test_a_refusal_names_its_line_and_column(text: str, line: int, column: int, says: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_policy(text)
    assert refused.value.field == "policy"
    assert (refused.value.details["line"], refused.value.details["column"]) == (line, column), (
        refused.value.message
    )
    assert f"line {line}, column {column}: " in refused.value.message
    assert says in refused.value.message


def test_an_unknown_metric_lists_the_known_ones_and_suggests_the_nearest() -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_policy("alias: production\ngates:\n  - {metric: roc-auc, min: 0.8}\n")
    assert "did you mean roc_auc" in refused.value.message
    assert all(name in refused.value.message for name in QUALITY_METRICS)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("", "is empty"),
        ("alias: p\x00\ngates: []\n", "NUL or a lone surrogate"),
        ("x" * 70_000, "the limit is 65536"),
    ],
)
def test_what_is_not_a_policy_at_all(text: str, says: str) -> None:
    with pytest.raises(InvalidParameter, match=says):
        parse_policy(text)


def test_the_file_name_can_stand_for_the_field() -> None:
    with pytest.raises(InvalidParameter, match=r"^gates\.yaml: line 3, column 13: unknown metric"):
        parse_policy("alias: production\ngates:\n  - metric: aucc\n    min: 1\n", "gates.yaml")


def test_assertions_are_pluggable() -> None:
    @safety.assertion("starts_with_test")
    def starts_with(config: object) -> safety.Check:
        prefix = safety.text_config(config)
        return lambda output: None if output.startswith(prefix) else f"does not start with {prefix!r}"

    try:
        policy = parse_policy("alias: production\ngates:\n  - safety: [{starts_with_test: 'Answer:'}]\n")
        (assertion,) = policy.gates[0].assertions
        assert assertion.check("Answer: 42") is None
        assert assertion.check("42") == "does not start with 'Answer:'"
        with pytest.raises(InvalidParameter, match="column 33: starts_with_test: takes a string"):
            parse_policy("alias: production\ngates:\n  - safety: [{starts_with_test: 3}]\n")
    finally:
        del safety.ASSERTIONS["starts_with_test"]


def test_the_vocabulary_knows_which_way_is_better() -> None:
    assert higher_is_better("roc_auc") and higher_is_better("demographic_parity_ratio")
    assert not higher_is_better("rmse") and not higher_is_better("single_p99_ms")
    assert not higher_is_better("demographic_parity_difference")
