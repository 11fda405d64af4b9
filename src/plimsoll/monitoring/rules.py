"""What breaks a monitor's window: rules over the monitored values (no I/O).

A rule compares one monitored value of a window with a threshold. Its signal is *active* when the
value breaks the rule; `for_windows` asks for that many windows in a row before whoever receives
the signal treats it as firing, so one unlucky window does not cry wolf. A value a window cannot
measure (no labels yet, no scores logged) keeps the verdict of the window before: a breach neither
starts nor ends on it (`rows` is always measured).

The monitored values of a window (`VALUES`; `<feature>` and `<metric>` are filled in):

    rows                             rows in the window
    drift.detected                   1 when any watched column drifted (false alarms controlled
                                     across columns and segments), else 0
    drift.share                      the share of watched columns that drifted
    drift.prediction                 1 when the predictions' distribution drifted, else 0
    drift.score.<feature>            a column's drift statistic (its method's, see statistics.md)
    drift.multivariate_auc           the domain classifier's AUC (0.5: indistinguishable)
    quality.invalid_share            the share of rows breaking the signature (missing, wrong type)
    quality.missing_share            the share of cells of watched columns that are null or NaN
    quality.out_of_range_share       the share of numeric cells outside the reference's range
    quality.unseen_share             the share of categorical cells with a label the reference lacks
    labels.coverage                  labelled rows / rows
    labels.lag_s                     median seconds from a prediction to its label
    labels.unmatched                 labels that arrived in the window for ids no prediction has (kept:
                                     they join their prediction if it arrives later)
    performance.<metric>             realised, on the labelled rows (None below `min_labels`)
    performance.<metric>.estimated   estimated without labels (classifiers with scores)
    performance.<metric>.drop        how much worse than the reference, realised (positive: worse)
    performance.<metric>.estimated_drop   the same for the estimate's optimistic end
    outcomes.<name>.mean / .sum      a business outcome joined to the window's predictions
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_name, check_text, printable

OPERATORS = (">", ">=", "<", "<=", "==", "!=")
SEVERITIES = ("info", "warning", "critical")
MAX_FOR_WINDOWS = 1_000
MAX_FOR_S = 30 * 86_400
MAX_LABELS = 20
ANNOTATIONS = ("summary", "description", "runbook_url")
DEFAULT_CONSECUTIVE = 3
# The rules whose firing explains the others away: no data, or a monitor that stopped running.
EXPLAINING_RULES = ("no_data", "monitor_stale")
VALUE_PATTERN = (
    r"^(rows|drift\.(detected|share|prediction|multivariate_auc|score\..+)|"
    r"quality\.(invalid_share|missing_share|out_of_range_share|unseen_share)|labels\.(coverage|lag_s|unmatched)|"
    r"performance\.[a-z_0-9]+(\.(estimated|drop|estimated_drop))?|outcomes\..+\.(mean|sum)|staleness_s)$"
)
_VALUE = re.compile(VALUE_PATTERN)


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    value: str
    op: str
    threshold: float
    for_windows: int = 1
    for_s: int = 0
    severity: str = "warning"
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def breaks(self, value: float | None) -> bool:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return False
        return {
            ">": value > self.threshold,
            ">=": value >= self.threshold,
            "<": value < self.threshold,
            "<=": value <= self.threshold,
            "==": value == self.threshold,
            "!=": value != self.threshold,
        }[self.op]

    def describe(self) -> str:
        held = f" for {self.for_windows} windows in a row" if self.for_windows > 1 else ""
        return f"{self.value} {self.op} {self.threshold:g}{held}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Rule:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__ if name in body})


def signal(rule: Rule, value: float | None, consecutive_before: int) -> dict[str, Any]:
    """The rule's verdict on one window, in `monitor.checked`'s shape; `consecutive_before` is
    how many windows in a row it was active just before this one. A window that cannot measure
    the value (its labels are not back yet) keeps the verdict it found: a breach neither starts
    nor ends on a value nobody could measure."""
    measured = None if value is None or not math.isfinite(value) else float(value)
    if measured is None:
        active, consecutive = consecutive_before > 0, consecutive_before
    else:
        active = rule.breaks(measured)
        consecutive = consecutive_before + 1 if active else 0
    return {
        "rule": rule.name,
        "active": active,
        "value": measured,
        "op": rule.op,
        "threshold": rule.threshold,
        "severity": rule.severity,
        "for_windows": rule.for_windows,
        "consecutive": consecutive,
        "for_s": rule.for_s,
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
    }


def default_rules(task: str, primary_metric: str) -> tuple[Rule, ...]:
    """What every monitor checks unless told otherwise (docs/monitoring.md explains each)."""
    runbook = "https://plimsoll.dev/docs/monitoring#what-to-do-when-a-rule-fires"
    worse = f"performance.{primary_metric}.drop"
    return (
        Rule(
            "no_data",
            "rows",
            "==",
            0,
            severity="warning",
            annotations={"summary": "No traffic was logged in the window", "runbook_url": runbook},
        ),
        Rule(
            "data_drift",
            "drift.detected",
            "==",
            1,
            for_windows=DEFAULT_CONSECUTIVE,
            severity="warning",
            annotations={"summary": "The features drifted from the reference", "runbook_url": runbook},
        ),
        Rule(
            "prediction_drift",
            "drift.prediction",
            "==",
            1,
            for_windows=DEFAULT_CONSECUTIVE,
            severity="warning",
            annotations={"summary": "The predictions drifted from the reference", "runbook_url": runbook},
        ),
        Rule(
            "data_quality",
            "quality.invalid_share",
            ">",
            0.01,
            severity="warning",
            annotations={"summary": "Over 1% of rows break the model's signature", "runbook_url": runbook},
        ),
        Rule(
            "performance_drop",
            worse,
            ">",
            0.05 if task == "classification" else 0.0,
            severity="critical",
            annotations={
                "summary": f"Realised {primary_metric} fell below the reference's",
                "runbook_url": runbook,
            },
        ),
        *(
            (
                Rule(
                    "estimated_performance_drop",
                    f"performance.{primary_metric}.estimated_drop",
                    ">",
                    0.02,
                    for_windows=2,
                    severity="warning",
                    annotations={
                        "summary": f"Even the optimistic end of the estimated {primary_metric} is below the reference's",
                        "runbook_url": runbook,
                    },
                ),
            )
            if task == "classification"
            else ()
        ),
    )


def stale_rule(every_ms: int) -> Rule:
    """The rule the scheduler checks between windows: no window computed for two periods."""
    return Rule(
        "monitor_stale",
        "staleness_s",
        ">",
        float(2 * every_ms // 1000),
        severity="critical",
        annotations={
            "summary": "The monitor has not produced a window for two periods: it failed or has no traffic",
            "runbook_url": "https://plimsoll.dev/docs/monitoring#monitor-stale",
        },
    )


def check_rules(field_name: str, value: Any) -> tuple[Rule, ...]:
    if not isinstance(value, list | tuple):
        raise InvalidParameter(field_name, "must be a list of rules")
    if len(value) > 100:
        raise InvalidParameter(field_name, f"has {len(value)} rules; at most 100")
    rules = tuple(check_rule(f"{field_name}[{i}]", body) for i, body in enumerate(value))
    names = [rule.name for rule in rules]
    if len(set(names)) != len(names):
        raise InvalidParameter(field_name, "names a rule twice: a rule's name is its identity in alerts")
    return rules


def check_rule(field_name: str, body: Any) -> Rule:
    if isinstance(body, Rule):
        body = body.to_dict()
    if not isinstance(body, dict):
        raise InvalidParameter(field_name, "must be an object: name, value, op, threshold")
    unknown = sorted(set(body) - set(Rule.__dataclass_fields__))
    if unknown:
        raise InvalidParameter(f"{field_name}.{unknown[0]}", "is not a rule field")
    for required in ("name", "value", "op", "threshold"):
        if required not in body:
            raise InvalidParameter(f"{field_name}.{required}", "is required")
    name = check_name(f"{field_name}.name", body["name"], max_length=100)
    value = check_text(f"{field_name}.value", body["value"], max_length=300)
    if not _VALUE.fullmatch(value):
        raise InvalidParameter(
            f"{field_name}.value",
            f"{printable(value)[:80]!r} is not a monitored value (docs/monitoring.md lists them: rows, "
            "drift.detected, drift.score.<feature>, performance.<metric>.drop, labels.coverage, ...)",
        )
    if body["op"] not in OPERATORS:
        raise InvalidParameter(
            f"{field_name}.op", f"must be one of {' '.join(OPERATORS)}; got {printable(body['op'])!r}"
        )
    threshold = body["threshold"]
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise InvalidParameter(
            f"{field_name}.threshold", f"must be a finite number; got {printable(threshold)!r}"
        )
    for_windows = body.get("for_windows", 1)
    if (
        isinstance(for_windows, bool)
        or not isinstance(for_windows, int)
        or not 1 <= for_windows <= MAX_FOR_WINDOWS
    ):
        raise InvalidParameter(
            f"{field_name}.for_windows", f"must be a whole number from 1 to {MAX_FOR_WINDOWS}"
        )
    for_s = body.get("for_s", 0)
    if isinstance(for_s, bool) or not isinstance(for_s, int) or not 0 <= for_s <= MAX_FOR_S:
        raise InvalidParameter(f"{field_name}.for_s", f"must be whole seconds from 0 to {MAX_FOR_S}")
    severity = body.get("severity", "warning")
    if severity not in SEVERITIES:
        raise InvalidParameter(f"{field_name}.severity", f"must be one of {', '.join(SEVERITIES)}")
    labels = _string_map(f"{field_name}.labels", body.get("labels") or {}, MAX_LABELS)
    annotations = _string_map(f"{field_name}.annotations", body.get("annotations") or {}, len(ANNOTATIONS))
    unknown_notes = sorted(set(annotations) - set(ANNOTATIONS))
    if unknown_notes:
        raise InvalidParameter(
            f"{field_name}.annotations.{unknown_notes[0]}", f"must be one of {', '.join(ANNOTATIONS)}"
        )
    return Rule(name, value, body["op"], float(threshold), for_windows, for_s, severity, labels, annotations)


def _string_map(field_name: str, value: Any, limit: int) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, "must be an object of text values")
    if len(value) > limit:
        raise InvalidParameter(field_name, f"has {len(value)} entries; at most {limit}")
    return {
        check_name(f"{field_name}.key", key, max_length=100): check_text(
            f"{field_name}.{key}", text, max_length=2000
        )
        for key, text in value.items()
    }
