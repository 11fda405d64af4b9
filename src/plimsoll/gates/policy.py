"""A release policy in YAML, read into a `Policy`; every refusal names its line and column.

    model: churn                  # optional: the model the policy is for
    alias: production             # the alias it guards; its holder is the baseline
    approvals: {required: 2, expires_after: 7d, approvers: [ana, ben]}
    gates:
      - {name: auc, metric: roc_auc, min: 0.85}                        # a value threshold
      - {name: auc-change, metric: roc_auc, max_regression: 0.01}      # against the baseline
      - {metric: accuracy, slice: region, min: 0.8, min_slice_size: 200}
      - {fairness: demographic_parity_difference, max: 0.1, severity: warning}
      - {latency: single_p99_ms, max: 40}
      - {cost: price_per_1000, max: 0.2}
      - {datasets: [training, evaluation]}                             # validation passed
      - {safety: [{json: true}, {pii: [email]}], min_pass_rate: 0.99}

The YAML is composed (not loaded), so that each node keeps where it was written: an unknown metric,
a misspelt key or a value of the wrong type is reported as `line 7, column 13: ...`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, NoReturn

import yaml
from blake3 import blake3
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from plimsoll.core.errors import InvalidParameter
from plimsoll.gates import safety
from plimsoll.gates.entities import MAX_GATE_NAME_LENGTH, SEVERITIES
from plimsoll.gates.vocabulary import (
    COST_METRICS,
    DATASET_ROLES,
    FAIRNESS_METRICS,
    LATENCY_METRICS,
    QUALITY_METRICS,
)

MAX_POLICY_LENGTH = 64 * 1024
MAX_GATES = 200
MAX_APPROVALS = 20
DAY_MS = 86_400_000
DEFAULT_APPROVAL_EXPIRY_MS = 7 * DAY_MS
MAX_EXPIRY_MS = 365 * DAY_MS
ALIAS = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_DURATION = re.compile(r"^([1-9][0-9]{0,5})([mhd])$")
_DURATION_MS = {"m": 60_000, "h": 3_600_000, "d": DAY_MS}

# The kinds of gate, by the key that names what a gate judges.
KIND_KEYS: dict[str, str] = {
    "metric": "metric",
    "fairness": "fairness",
    "latency": "latency",
    "cost": "cost",
    "datasets": "datasets",
    "safety": "safety",
}
KINDS: tuple[str, ...] = (
    "threshold",
    "change",
    "slices",
    "fairness",
    "latency",
    "cost",
    "datasets",
    "safety",
)


@dataclass(frozen=True)
class Assertion:
    """One safety assertion of a gate: its registered name and configuration."""

    name: str
    config: Any
    check: safety.Check = field(compare=False, repr=False)


@dataclass(frozen=True)
class Gate:
    name: str
    kind: str  # one of KINDS
    severity: str = "blocking"
    measure: str | None = None  # the metric, fairness measure, latency or cost judged
    min: float | None = None
    max: float | None = None
    max_regression: float | None = None  # change gates: how much worse than the baseline, at most
    max_regression_pct: float | None = None
    slice: str | None = None
    min_slice_size: int = 1
    datasets: tuple[str, ...] = ()
    assertions: tuple[Assertion, ...] = ()
    min_pass_rate: float = 1.0
    line: int = 0


@dataclass(frozen=True)
class Approvals:
    required: int = 0
    expires_after_ms: int = DEFAULT_APPROVAL_EXPIRY_MS
    approvers: tuple[str, ...] = ()  # empty: anyone holding the approver role in the project


@dataclass(frozen=True)
class Policy:
    alias: str
    gates: tuple[Gate, ...]
    approvals: Approvals
    text: str
    digest: str
    model: str | None = None

    def gate(self, name: str) -> Gate | None:
        return next((gate for gate in self.gates if gate.name == name), None)


def policy_digest(text: str) -> str:
    return blake3(text.encode()).hexdigest()


class _Refusal(Exception):
    def __init__(self, node: Node | None, message: str) -> None:
        super().__init__(message)
        self.line = None if node is None else node.start_mark.line + 1
        self.column = None if node is None else node.start_mark.column + 1
        self.message = message


def parse_policy(text: Any, field_name: str = "policy") -> Policy:
    """The policy `text` states; InvalidParameter naming the line and column of the first problem
    (also in `details["line"]` and `details["column"]`)."""
    if not isinstance(text, str):
        raise InvalidParameter(field_name, f"must be YAML text, got {type(text).__name__}")
    if len(text) > MAX_POLICY_LENGTH:
        raise InvalidParameter(
            field_name, f"is {len(text)} characters long; the limit is {MAX_POLICY_LENGTH}"
        )
    if "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise InvalidParameter(field_name, "holds a character YAML cannot (NUL or a lone surrogate)")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not YAML"
        line, column = (None, None) if mark is None else (mark.line + 1, mark.column + 1)
        raise _error(field_name, line, column, f"not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise InvalidParameter(field_name, f"not valid YAML: {exc}") from None
    try:
        return _policy(root, text)
    except _Refusal as refusal:
        raise _error(field_name, refusal.line, refusal.column, refusal.message) from None


def _error(field_name: str, line: int | None, column: int | None, message: str) -> InvalidParameter:
    if line is None:
        return InvalidParameter(field_name, message)
    return InvalidParameter(
        field_name, f"line {line}, column {column}: {message}", details={"line": line, "column": column}
    )


# -- the document --------------------------------------------------------------------------------


def _policy(root: Node | None, text: str) -> Policy:
    if root is None:
        raise _Refusal(None, "is empty: a policy names its alias and its gates")
    top = _mapping(root, "the policy", {"model", "alias", "approvals", "gates"})
    alias_node = top.get("alias")
    if alias_node is None:
        raise _Refusal(root, "names no `alias`: the alias it guards (e.g. alias: production)")
    alias = _string(alias_node, "alias")
    if not ALIAS.fullmatch(alias):
        raise _Refusal(alias_node, f"alias {alias!r} is not a lowercase word (e.g. production)")
    model = None if top.get("model") is None else _string(top["model"], "model")
    gates_node = top.get("gates")
    if gates_node is None:
        raise _Refusal(root, "has no `gates`: list at least one")
    if not isinstance(gates_node, SequenceNode) or not gates_node.value:
        raise _Refusal(gates_node, "`gates` must be a list of at least one gate")
    if len(gates_node.value) > MAX_GATES:
        raise _Refusal(gates_node, f"has {len(gates_node.value)} gates; the limit is {MAX_GATES}")
    gates: list[Gate] = []
    seen: dict[str, int] = {}
    for node in gates_node.value:
        gate = _gate(node)
        if gate.name in seen:
            raise _Refusal(
                node, f"a gate named {gate.name!r} is already on line {seen[gate.name]}: give it a `name`"
            )
        seen[gate.name] = gate.line
        gates.append(gate)
    approvals = Approvals() if top.get("approvals") is None else _approvals(top["approvals"])
    return Policy(alias, tuple(gates), approvals, text, policy_digest(text), model)


def _approvals(node: Node) -> Approvals:
    body = _mapping(node, "approvals", {"required", "expires_after", "approvers"})
    required = 0 if "required" not in body else _int(body["required"], "required", 0, MAX_APPROVALS)
    expires = DEFAULT_APPROVAL_EXPIRY_MS
    if "expires_after" in body:
        expires = _duration(body["expires_after"])
    approvers: tuple[str, ...] = ()
    if "approvers" in body:
        approvers = tuple(_string(item, "an approver") for item in _sequence(body["approvers"], "approvers"))
    if approvers and len(set(approvers)) < required:
        raise _Refusal(node, f"requires {required} approvals but names only {len(set(approvers))} approvers")
    return Approvals(required, expires, approvers)


def _duration(node: Node) -> int:
    text = _string(node, "expires_after")
    found = _DURATION.fullmatch(text)
    if found is None:
        raise _Refusal(node, f"expires_after {text!r} is not a duration such as 30m, 12h or 7d")
    ms = int(found.group(1)) * _DURATION_MS[found.group(2)]
    if ms > MAX_EXPIRY_MS:
        raise _Refusal(node, f"expires_after {text!r} is longer than a year")
    return ms


# -- one gate ------------------------------------------------------------------------------------

_COMMON = {"name", "severity"}
_ALLOWED: dict[str, set[str]] = {
    "threshold": _COMMON | {"metric", "min", "max"},
    "change": _COMMON | {"metric", "max_regression", "max_regression_pct"},
    "slices": _COMMON | {"metric", "slice", "min", "max", "min_slice_size"},
    "fairness": _COMMON | {"fairness", "min", "max"},
    "latency": _COMMON | {"latency", "max"},
    "cost": _COMMON | {"cost", "max"},
    "datasets": _COMMON | {"datasets"},
    "safety": _COMMON | {"safety", "min_pass_rate"},
}


def _gate(node: Node) -> Gate:
    every = set().union(*_ALLOWED.values())
    body = _mapping(node, "a gate", every)
    named = [key for key in KIND_KEYS if key in body]
    if len(named) != 1:
        what = "none" if not named else " and ".join(f"`{key}`" for key in named)
        raise _Refusal(
            node,
            f"a gate judges one thing: give exactly one of {', '.join(f'`{k}`' for k in KIND_KEYS)} (found {what})",
        )
    kind = _kind(named[0], body)
    for key, value in body.items():
        if key not in _ALLOWED[kind]:
            raise _Refusal(
                value,
                f"`{key}` is not a setting of a {kind} gate; it takes: {', '.join(sorted(_ALLOWED[kind]))}",
            )
    severity = "blocking"
    if "severity" in body:
        severity = _string(body["severity"], "severity")
        if severity not in SEVERITIES:
            raise _Refusal(body["severity"], f"severity {severity!r} is not one of: {', '.join(SEVERITIES)}")
    line = node.start_mark.line + 1
    build = _BUILDERS[kind]
    gate = build(body, node)
    name = _string(body["name"], "name") if "name" in body else _default_name(gate)
    if not name.strip() or len(name) > MAX_GATE_NAME_LENGTH or any(ord(c) < 32 for c in name):
        raise _Refusal(
            body.get("name", node), f"a gate's name is 1 to {MAX_GATE_NAME_LENGTH} printable characters"
        )
    return replace(gate, name=name, severity=severity, line=line)


def _kind(key: str, body: dict[str, Node]) -> str:
    if key != "metric":
        return key
    if "max_regression" in body or "max_regression_pct" in body:
        return "change"
    return "slices" if "slice" in body else "threshold"


def _default_name(gate: Gate) -> str:
    if gate.kind == "change":
        return f"{gate.measure} change"
    if gate.kind == "slices":
        return f"{gate.measure} by {gate.slice}"
    if gate.kind in ("datasets", "safety"):
        return gate.kind
    return str(gate.measure)


def _measure(body: dict[str, Node], key: str, known: dict[str, bool] | tuple[str, ...], what: str) -> str:
    node = body[key]
    name = _string(node, key)
    if name not in known:
        close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.6)
        hint = f" (did you mean {' or '.join(close[:3])}?)" if close else ""
        raise _Refusal(node, f"unknown {what} {name!r}{hint}; the {what}s are: {', '.join(sorted(known))}")
    return name


def _bounds(body: dict[str, Node], node: Node) -> tuple[float | None, float | None]:
    low = None if "min" not in body else _number(body["min"], "min")
    high = None if "max" not in body else _number(body["max"], "max")
    if low is None and high is None:
        raise _Refusal(node, "a threshold needs `min`, `max` or both")
    if low is not None and high is not None and low > high:
        raise _Refusal(body["min"], f"min {low:g} is above max {high:g}")
    return low, high


def _threshold(body: dict[str, Node], node: Node) -> Gate:
    measure = _measure(body, "metric", QUALITY_METRICS, "metric")
    low, high = _bounds(body, node)
    return Gate("", "threshold", measure=measure, min=low, max=high)


def _change(body: dict[str, Node], node: Node) -> Gate:
    measure = _measure(body, "metric", QUALITY_METRICS, "metric")
    absolute = None if "max_regression" not in body else _number(body["max_regression"], "max_regression")
    relative = (
        None
        if "max_regression_pct" not in body
        else _number(body["max_regression_pct"], "max_regression_pct")
    )
    for key, value in (("max_regression", absolute), ("max_regression_pct", relative)):
        if value is not None and value < 0:
            raise _Refusal(body[key], f"{key} is how much worse the metric may get: 0 or more, got {value:g}")
    return Gate("", "change", measure=measure, max_regression=absolute, max_regression_pct=relative)


def _slices(body: dict[str, Node], node: Node) -> Gate:
    measure = _measure(body, "metric", QUALITY_METRICS, "metric")
    column = _string(body["slice"], "slice")
    size = 1 if "min_slice_size" not in body else _int(body["min_slice_size"], "min_slice_size", 1, 10**12)
    low, high = _bounds(body, node)
    return Gate("", "slices", measure=measure, slice=column, min_slice_size=size, min=low, max=high)


def _fairness(body: dict[str, Node], node: Node) -> Gate:
    measure = _measure(body, "fairness", FAIRNESS_METRICS, "fairness measure")
    low, high = _bounds(body, node)
    return Gate("", "fairness", measure=measure, min=low, max=high)


def _budget(kind: str, known: tuple[str, ...]) -> Callable[[dict[str, Node], Node], Gate]:
    def build(body: dict[str, Node], node: Node) -> Gate:
        measure = _measure(body, kind, known, f"{kind} measure")
        if "max" not in body:
            raise _Refusal(node, f"a {kind} budget needs `max`")
        return Gate("", kind, measure=measure, max=_number(body["max"], "max"))

    return build


def _datasets(body: dict[str, Node], node: Node) -> Gate:
    value = body["datasets"]
    roles: list[str] = []
    for item in _sequence(value, "datasets"):
        role = _string(item, "a dataset role")
        if role not in DATASET_ROLES:
            raise _Refusal(item, f"unknown dataset role {role!r}; the roles are: {', '.join(DATASET_ROLES)}")
        roles.append(role)
    if not roles:
        raise _Refusal(
            value, f"name the datasets whose validation must have passed: {', '.join(DATASET_ROLES)}"
        )
    return Gate("", "datasets", datasets=tuple(dict.fromkeys(roles)))


def _safety(body: dict[str, Node], node: Node) -> Gate:
    assertions: list[Assertion] = []
    for item in _sequence(body["safety"], "safety"):
        entry = _mapping(item, "a safety assertion", None)
        if len(entry) != 1:
            raise _Refusal(item, "a safety assertion is one `name: configuration` pair, e.g. `- json: true`")
        ((name, config_node),) = entry.items()
        config = _value(config_node)
        try:
            check = safety.build(name, config)
        except ValueError as exc:
            raise _Refusal(config_node if name in safety.ASSERTIONS else item, f"{name}: {exc}") from None
        assertions.append(Assertion(name, config, check))
    if not assertions:
        raise _Refusal(body["safety"], "list at least one assertion, e.g. `- json: true`")
    rate = 1.0
    if "min_pass_rate" in body:
        rate = _number(body["min_pass_rate"], "min_pass_rate")
        if not 0 <= rate <= 1:
            raise _Refusal(body["min_pass_rate"], f"min_pass_rate is a share from 0 to 1, got {rate:g}")
    return Gate("", "safety", assertions=tuple(assertions), min_pass_rate=rate)


_BUILDERS: dict[str, Callable[[dict[str, Node], Node], Gate]] = {
    "threshold": _threshold,
    "change": _change,
    "slices": _slices,
    "fairness": _fairness,
    "latency": _budget("latency", LATENCY_METRICS),
    "cost": _budget("cost", COST_METRICS),
    "datasets": _datasets,
    "safety": _safety,
}


# -- nodes ---------------------------------------------------------------------------------------


def _mapping(node: Node, what: str, allowed: set[str] | None) -> dict[str, Node]:
    if not isinstance(node, MappingNode):
        raise _Refusal(node, f"{what} must be a mapping of `key: value`")
    found: dict[str, Node] = {}
    for key_node, value_node in node.value:
        key = _value(key_node)
        if not isinstance(key, str):
            raise _Refusal(key_node, f"a key of {what} must be a word, got {key!r}")
        if key in found:
            raise _Refusal(key_node, f"`{key}` is given twice in {what}")
        if allowed is not None and key not in allowed:
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f" (did you mean `{close[0]}`?)" if close else ""
            raise _Refusal(
                key_node, f"unknown key `{key}` in {what}{hint}; the keys are: {', '.join(sorted(allowed))}"
            )
        found[key] = value_node
    return found


def _sequence(node: Node, what: str) -> list[Node]:
    if isinstance(node, ScalarNode) and what in ("datasets", "approvers"):
        return [node]
    if not isinstance(node, SequenceNode):
        raise _Refusal(node, f"`{what}` must be a list")
    return list(node.value)


def _value(node: Node) -> Any:
    if isinstance(node, ScalarNode | SequenceNode | MappingNode):
        try:
            return SafeConstructor().construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            raise _Refusal(node, f"cannot read this value: {exc}") from None
    _refuse(node, "cannot read this value")


def _refuse(node: Node, message: str) -> NoReturn:
    raise _Refusal(node, message)


def _string(node: Node, what: str) -> str:
    value = _value(node) if isinstance(node, ScalarNode) else None
    if not isinstance(value, str) or not value:
        raise _Refusal(node, f"`{what}` must be a word or text, got {_shown(node)}")
    return value


def _number(node: Node, what: str) -> float:
    value = _value(node) if isinstance(node, ScalarNode) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or value != value
        or abs(value) == float("inf")
    ):
        raise _Refusal(node, f"`{what}` must be a finite number, got {_shown(node)}")
    return float(value)


def _int(node: Node, what: str, low: int, high: int) -> int:
    value = _value(node) if isinstance(node, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _Refusal(node, f"`{what}` must be a whole number from {low} to {high}, got {_shown(node)}")
    return value


def _shown(node: Node) -> str:
    if isinstance(node, ScalarNode):
        return repr(node.value)
    return "a list" if isinstance(node, SequenceNode) else "a mapping"
