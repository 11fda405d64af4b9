"""What the incidents capability reads of the events it consumes: a monitor's check (the
`monitor.checked` contract of docs/monitoring.md, validated by the event catalog when it was
published) and the platform's events that need a human, each as the labels and annotations of
the alert it becomes. Pure: no I/O.

The contract's payload is read here rather than through monitoring's own model: a capability
reaches another only through its service, and an event's payload is data, not code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plimsoll.core.jobs.events import JOB_DEAD
from plimsoll.core.webhooks.entities import DELIVER_JOB, PARKED_EVENT
from plimsoll.incidents.entities import SEVERITIES, finite
from plimsoll.incidents.matchers import RESERVED_LABELS, check_label_name, label_text

MONITOR_CHECKED = "monitor.checked"
AUDIT_FAILED = "audit.verification_failed"
DELIVERY_PARKED = PARKED_EVENT
CONSUMED: tuple[str, ...] = (MONITOR_CHECKED, AUDIT_FAILED, DELIVERY_PARKED, JOB_DEAD)
MAX_NAME = 200  # a rule's, monitor's or model's name as stored (longer ones are cut)
# The job kind whose dead letters are the webhooks' parked deliveries: alerted on once, as those.
WEBHOOK_DELIVERY_JOB = DELIVER_JOB
# Where each source's problem is explained (the description names it: a link needs a public URL).
RUNBOOKS = {"audit": "docs/security.md", "webhooks": "docs/webhooks.md", "jobs": "docs/jobs.md"}


@dataclass(frozen=True)
class Signal:
    rule: str
    active: bool
    value: float | None
    op: str
    threshold: float | None
    severity: str
    for_windows: int
    consecutive: int
    for_s: int
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class Check:
    """One `monitor.checked` event: every rule's signal for one monitor and segment."""

    project: str
    monitor: str
    monitor_id: str
    model: str
    alias: str
    version: int | None
    segment_column: str
    segment_value: str
    checked_at: int
    url: str
    signals: tuple[Signal, ...] = field(default_factory=tuple)
    # A window's check reports every rule of the monitor; a staleness check between windows
    # (no window) reports only its own, and says nothing of the others.
    windowed: bool = True

    def labels(self, signal: Signal) -> dict[str, str]:
        """The alert's labels: the rule's own first, then those that identify it (which win)."""
        labels = {key: value for key, value in signal.labels.items() if key not in RESERVED_LABELS}
        labels |= {
            "alertname": signal.rule,
            "project": self.project,
            "model": self.model,
            "alias": self.alias,
            "monitor": self.monitor,
            "severity": signal.severity,
        }
        if self.version is not None:
            labels["version"] = str(self.version)
        if self.segment_column:
            labels["segment_column"] = self.segment_column
            labels["segment_value"] = self.segment_value
        return labels


def read_check(payload: Mapping[str, Any], created_at: int) -> Check:
    segment = payload.get("segment") or {}
    version = payload.get("version")
    return Check(
        project=str(payload["project"]),
        monitor=str(payload["monitor"])[:MAX_NAME],
        monitor_id=str(payload.get("monitor_id", ""))[:32],
        model=str(payload["model"])[:MAX_NAME],
        alias=str(payload.get("alias", ""))[:64],
        version=int(version) if isinstance(version, int) and not isinstance(version, bool) else None,
        segment_column=label_text(segment.get("column", "")) if isinstance(segment, dict) else "",
        segment_value=label_text(segment.get("value", "")) if isinstance(segment, dict) else "",
        checked_at=int(payload.get("checked_at") or created_at),
        url=str(payload.get("url", "")),
        signals=tuple(_signal(item) for item in payload.get("signals", ()) if isinstance(item, dict)),
        windowed=payload.get("window") is not None,
    )


def _signal(item: Mapping[str, Any]) -> Signal:
    severity = str(item.get("severity", "warning")).lower()
    return Signal(
        rule=label_text(item["rule"])[:MAX_NAME],
        active=bool(item.get("active")),
        value=finite(item.get("value")),
        op=str(item.get("op", ""))[:4],
        threshold=finite(item.get("threshold")),
        severity=severity if severity in SEVERITIES else "warning",
        for_windows=max(1, int(item.get("for_windows") or 1)),
        consecutive=max(0, int(item.get("consecutive") or 0)),
        for_s=max(0, int(item.get("for_s") or 0)),
        labels=_strings(item.get("labels"), names=True),
        annotations=_strings(item.get("annotations")),
    )


def _strings(value: Any, *, names: bool = False) -> dict[str, str]:
    if not isinstance(value, dict):
        return {}
    found: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or item is None:
            continue
        if names:
            try:
                check_label_name("label", key)
            except ValueError:
                continue  # a label no matcher could name: left out
        found[key] = label_text(item)
    return found


@dataclass(frozen=True)
class PlatformProblem:
    """A platform event that needs a human, as the alert it becomes (critical, firing at once)."""

    source: str  # audit, webhooks or jobs
    labels: dict[str, str]
    annotations: dict[str, str]


def platform_problem(event_type: str, payload: Mapping[str, Any]) -> PlatformProblem | None:
    """The alert an event of the platform's becomes, or None (an event that needs no human)."""
    if event_type == AUDIT_FAILED:
        problem = label_text(payload.get("problem") or "a row or checkpoint does not verify")
        return _problem(
            "audit",
            "audit_verification_failed",
            {},
            "The audit log does not verify",
            f"{problem} (first bad row: {payload.get('first_bad_seq')}, "
            f"{payload.get('rows_checked')} rows checked). Find what changed before anything else.",
        )
    if event_type == DELIVERY_PARKED:
        name = label_text(payload.get("subscription") or payload.get("subscription_id") or "?")
        return _problem(
            "webhooks",
            "webhook_delivery_parked",
            {"webhook": name},
            f"Webhook {name!r} parked a delivery of {payload.get('event_type')}",
            f"After {payload.get('attempts')} attempts: {label_text(payload.get('error') or '')}. "
            "The receiver misses what was parked until the delivery is retried "
            "(`plimsoll webhooks deliveries`, `plimsoll jobs retry`).",
        )
    if event_type == JOB_DEAD:
        kind = label_text(payload.get("kind") or "?")
        if kind == WEBHOOK_DELIVERY_JOB:
            return None  # the webhook's parked delivery is the alert
        return _problem(
            "jobs",
            "job_dead_lettered",
            {"job_kind": kind},
            f"A {kind} job is dead after {payload.get('attempts')} attempts",
            f"{label_text(payload.get('error') or '')} (job {payload.get('job_id')}; "
            "`plimsoll jobs show`, `plimsoll jobs retry`).",
        )
    return None


def _problem(
    source: str, name: str, extra: dict[str, str], summary: str, description: str
) -> PlatformProblem:
    labels = {"alertname": name, "source": source, "severity": "critical", **extra}
    annotations = {"summary": summary, "description": f"{description} See {RUNBOOKS[source]}."}
    return PlatformProblem(source, labels, annotations)
