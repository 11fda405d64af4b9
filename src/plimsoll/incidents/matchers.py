"""Labels, fingerprints and matchers: the pure rules silences and inhibition are made of.

An alert is identified by its labels (`alertname`, `project`, `model`, `alias`, `version`,
`monitor`, the segment, and the rule's own labels); its fingerprint is a hash of them, severity
left out, so that one rule on one model version and segment is one alert however often its
monitor reports it. A matcher (`model=churn`, `alertname=~"drift.*"`) tests one label, as
Alertmanager's do: `=` and `!=` compare the whole value, `=~` and `!~` match a regular expression
against the whole value; a label an alert lacks reads as the empty string.

Regular expressions run on the server, against every alert a silence or an inhibition rule is
checked with, so they are kept from the constructions that backtrack without bound: no repeated
group (`(a+)+`), no back-reference and no look-around (`check_regex`).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_text, printable

OPS: tuple[str, ...] = ("=", "!=", "=~", "!~")
LABEL_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_LABEL_NAME = re.compile(LABEL_NAME_PATTERN)
MAX_LABEL_VALUE = 1000
MAX_MATCHERS = 20
MAX_EQUAL = 20
MAX_REGEX = 256
# The labels that identify an alert of a monitor; a rule's own labels cannot override them.
RESERVED_LABELS: tuple[str, ...] = (
    "alertname",
    "project",
    "model",
    "alias",
    "version",
    "monitor",
    "segment_column",
    "segment_value",
    "severity",
    "source",
)
# Left out of the fingerprint: a rule's severity is not what the alert is about.
UNIDENTIFYING = frozenset({"severity"})
_MATCHER_TEXT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)(.*)$", re.DOTALL)
# A group closed and then repeated, a back-reference, a look-around: what may backtrack without end.
_UNSAFE = re.compile(r"\)\s*(?:[*+?]|\{\d*,?\d*\})|\\[1-9]|\\g<|\(\?[=!<]|\(\?P=")


@dataclass(frozen=True)
class Matcher:
    """`name op value`: whether an alert's label `name` is (`=`), is not (`!=`), matches (`=~`)
    or does not match (`!~`) `value`."""

    name: str
    op: str
    value: str

    def matches(self, labels: Mapping[str, str]) -> bool:
        found = labels.get(self.name, "")
        if self.op == "=":
            return found == self.value
        if self.op == "!=":
            return found != self.value
        matched = _compiled(self.value).fullmatch(found) is not None
        return matched if self.op == "=~" else not matched

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "op": self.op, "value": self.value}

    def __str__(self) -> str:
        value = self.value if self.op in ("=", "!=") else f'"{self.value}"'
        return f"{self.name}{self.op}{value}"


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


def parse_matcher(field: str, value: Any) -> Matcher:
    """A matcher from its text (`model=churn`, `alertname=~drift.*`, quotes around the value
    optional) or its object (`{"name": "model", "op": "=", "value": "churn"}`)."""
    if isinstance(value, Matcher):
        return check_matcher(field, value.name, value.op, value.value)
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {"name", "op", "value"})
        if unknown:
            raise InvalidParameter(f"{field}.{printable(unknown[0])}", "is not a field of a matcher")
        return check_matcher(field, value.get("name"), value.get("op", "="), value.get("value"))
    if isinstance(value, str):
        found = _MATCHER_TEXT.match(value)
        if found is None:
            raise InvalidParameter(
                field,
                f"{printable(value)!r} is not a matcher: LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or "
                "LABEL!~REGEX (e.g. model=churn)",
            )
        name, op, text = found.group(1), found.group(2), found.group(3).strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
            text = text[1:-1]
        return check_matcher(field, name, op, text)
    raise InvalidParameter(field, f"must be a matcher such as 'model=churn', got {printable(value)!r}")


def check_matcher(field: str, name: Any, op: Any, value: Any) -> Matcher:
    check_label_name(f"{field}.name", name)
    if op not in OPS:
        raise InvalidParameter(f"{field}.op", f"must be one of {', '.join(OPS)}; got {printable(op)!r}")
    text = check_text(f"{field}.value", value, max_length=MAX_LABEL_VALUE)
    if op in ("=~", "!~"):
        check_regex(f"{field}.value", text)
    return Matcher(name, op, text)


def check_matchers(field: str, value: Any, *, require_selective: bool = True) -> tuple[Matcher, ...]:
    """A list of matchers (texts or objects), 1 to MAX_MATCHERS of them. With `require_selective`
    (a silence), at least one must not match an alert that lacks the label: a silence of
    everything is refused, as Alertmanager refuses one."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidParameter(field, "must be a list of matchers such as ['model=churn']")
    if not value:
        raise InvalidParameter(field, "must hold at least one matcher (e.g. 'model=churn')")
    if len(value) > MAX_MATCHERS:
        raise InvalidParameter(field, f"has {len(value)} matchers; the limit is {MAX_MATCHERS}")
    matchers = tuple(parse_matcher(f"{field}[{index}]", item) for index, item in enumerate(value))
    if require_selective and all(matcher.matches({}) for matcher in matchers):
        raise InvalidParameter(
            field,
            "would match every alert: at least one matcher must not match an empty label "
            "(e.g. model=churn, not model=~.*)",
        )
    return matchers


def check_label_name(field: str, value: Any) -> str:
    if not isinstance(value, str) or not _LABEL_NAME.fullmatch(value):
        raise InvalidParameter(
            field,
            f"must be a label name: a letter or '_', then letters, digits or '_' (at most 128); "
            f"got {printable(value)!r}",
        )
    return value


def check_label_names(field: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidParameter(field, "must be a list of label names such as ['monitor']")
    if len(value) > MAX_EQUAL:
        raise InvalidParameter(field, f"has {len(value)} names; the limit is {MAX_EQUAL}")
    names = [check_label_name(f"{field}[{index}]", item) for index, item in enumerate(value)]
    return tuple(dict.fromkeys(names))


def check_regex(field: str, pattern: str) -> str:
    if len(pattern) > MAX_REGEX:
        raise InvalidParameter(
            field, f"is a regular expression of {len(pattern)} characters; the limit is {MAX_REGEX}"
        )
    unsafe = _UNSAFE.search(pattern)
    if unsafe is not None:
        raise InvalidParameter(
            field,
            f"{pattern!r}: {unsafe.group(0)!r} at position {unsafe.start()} may backtrack without end; "
            "a matcher's regular expression takes no repeated group, back-reference or look-around",
        )
    try:
        _compiled(pattern)
    except re.error as error:
        raise InvalidParameter(field, f"{pattern!r} is not a regular expression: {error}") from None
    return pattern


_CACHE: dict[str, re.Pattern[str]] = {}


def _compiled(pattern: str) -> re.Pattern[str]:
    found = _CACHE.get(pattern)
    if found is None:
        found = re.compile(pattern, re.DOTALL)
        if len(_CACHE) > 1024:
            _CACHE.clear()
        _CACHE[pattern] = found
    return found


def fingerprint(labels: Mapping[str, str]) -> str:
    """16 hex digits of SHA-256 over the identifying labels, sorted: stable for one alert."""
    text = "\0".join(f"{key}\0{labels[key]}" for key in sorted(labels) if key not in UNIDENTIFYING)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def label_text(value: Any) -> str:
    """A label's value as text a database stores (no NUL, no lone surrogate), cut to
    MAX_LABEL_VALUE characters."""
    text = value if isinstance(value, str) else str(value)
    text = text[:MAX_LABEL_VALUE].replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


@dataclass(frozen=True)
class Inhibition:
    """An inhibition rule: a firing alert matching `source` mutes the alerts matching `target`
    that have the same values for the `equal` labels (as Alertmanager's `inhibit_rules`). An
    alert never mutes itself. `id` "default" is the rule that ships with every platform."""

    id: str
    project: str | None  # None: the platform's own alerts
    source: tuple[Matcher, ...]
    target: tuple[Matcher, ...]
    equal: tuple[str, ...]
    comment: str
    created_by: str
    created_at: int
    builtin: bool = False

    def mutes(self, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
        return (
            matches_all(self.source, source)
            and matches_all(self.target, target)
            and all(source.get(name, "") == target.get(name, "") for name in self.equal)
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "source": [m.to_dict() for m in self.source],
            "target": [m.to_dict() for m in self.target],
            "equal": list(self.equal),
            "comment": self.comment,
            "created_by": self.created_by,
            "created_at": self.created_at,
            "builtin": self.builtin,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Inhibition:
        return cls(
            id=data["id"],
            project=data["project"],
            source=tuple(Matcher(**m) for m in data["source"]),
            target=tuple(Matcher(**m) for m in data["target"]),
            equal=tuple(data["equal"]),
            comment=data["comment"],
            created_by=data["created_by"],
            created_at=int(data["created_at"]),
            builtin=bool(data.get("builtin", False)),
        )


# The rules that explain the others: a monitor without data, or one that stopped checking.
EXPLAINING_RULES = "no_data|monitor_stale"
DEFAULT_INHIBITION = Inhibition(
    id="default",
    project=None,
    source=(Matcher("alertname", "=~", EXPLAINING_RULES),),
    target=(Matcher("alertname", "!~", EXPLAINING_RULES),),
    equal=("project", "monitor", "segment_column", "segment_value"),
    comment=(
        "A monitor without data (no_data) or that stopped checking (monitor_stale) mutes the other "
        "alerts of the same monitor and segment: they say nothing it does not explain."
    ),
    created_by="plimsoll",
    created_at=0,
    builtin=True,
)


def muted_by(
    rules: Iterable[Inhibition],
    target: Mapping[str, str],
    target_id: str,
    firing: Iterable[tuple[str, Mapping[str, str]]],
) -> str | None:
    """The id of the first firing alert (`(id, labels)` pairs) that mutes `target` under one of
    `rules`, or None."""
    candidates = [(alert_id, labels) for alert_id, labels in firing if alert_id != target_id]
    for rule in rules:
        if not matches_all(rule.target, target):
            continue
        for alert_id, labels in candidates:
            if rule.mutes(labels, target):
                return alert_id
    return None
