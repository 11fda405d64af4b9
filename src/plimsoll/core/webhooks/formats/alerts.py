"""Any event as an alert: the one view the alerting formats (Alertmanager, PagerDuty, Slack,
email) render from, so that they agree on status, severity, fingerprint and wording.

An alert event (`alert.firing`, `alert.fired` or `alert.resolved`) carries the monitoring
contract's payload (docs/webhooks.md, "Alert events"): rule, status, severity, fingerprint,
labels, annotations, times in epoch milliseconds, value and a link. Every other event becomes an
`info` notification named by its type, whose summary names the type and the aggregate, with a
fingerprint of its own (each such event is a notification of its own). A payload that breaks
the contract (a field missing or of the wrong type) falls back field by field: rendering never
fails on what an event holds.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from plimsoll.core.outbox import Event

ALERT_TYPES = frozenset({"alert.firing", "alert.fired", "alert.resolved"})
FIRING, RESOLVED = "firing", "resolved"
SEVERITIES = ("critical", "warning", "info")  # what the monitoring contract sends
MAX_TEXT = 4000  # a summary or description longer than this is cut (receivers cut shorter still)
MAX_LABEL = 1000  # one label or annotation value
MAX_FINGERPRINT = 255  # PagerDuty's limit for a dedup key


@dataclass(frozen=True)
class Alert:
    """What an alerting format shows. Times are epoch milliseconds; `labels` and `annotations`
    map strings to strings (Alertmanager's types)."""

    event: Event
    is_alert: bool  # an alert event, rather than another event shown as an `info` notice
    name: str  # the rule (`alertname`), or the event type
    status: str  # "firing" or "resolved"
    severity: str  # critical, warning or info (lowercase; an unknown one is kept as sent)
    summary: str
    description: str
    labels: dict[str, str]
    annotations: dict[str, str]
    fingerprint: str  # stable for one model version, rule and labels
    starts_at: int
    ends_at: int | None
    value: float | None
    url: str | None  # the alert's page (http or https only)
    runbook_url: str | None

    @property
    def resolved(self) -> bool:
        return self.status == RESOLVED

    @property
    def state(self) -> str:
        """FIRING, RESOLVED, or INFO for another event shown as a notice: a message's tag."""
        if not self.is_alert:
            return "INFO"
        return "RESOLVED" if self.resolved else "FIRING"

    @property
    def title(self) -> str:
        """The name and the summary, for a subject or a header line."""
        if self.summary.startswith(self.name):
            return self.summary
        return f"{self.name}: {self.summary}"

    @property
    def about(self) -> str:
        """`churn v3 (production)`, or the event's aggregate: what the alert is about."""
        return _about(self.labels) or self.event.aggregate


def alert_of(event: Event) -> Alert:
    """The alert an event shows as (see the module's docstring)."""
    payload = _payload(event)
    if event.type in ALERT_TYPES:
        return _alert(event, payload)
    return _notice(event, payload)


def rfc3339(epoch_ms: int) -> str:
    """`2026-03-01T12:00:00.250Z`: RFC 3339 in UTC with milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _alert(event: Event, payload: dict[str, Any]) -> Alert:
    labels = _strings(payload.get("labels"))
    annotations = _strings(payload.get("annotations"))
    name = _text(payload.get("rule")) or labels.get("alertname") or event.type
    status = payload.get("status")
    if status not in (FIRING, RESOLVED):
        status = RESOLVED if event.type == "alert.resolved" else FIRING
    severity = (_text(payload.get("severity")) or labels.get("severity") or "warning").lower()
    labels.setdefault("alertname", name)
    labels.setdefault("severity", severity)
    if event.project is not None:
        labels.setdefault("project", event.project)
    starts_at = _epoch_ms(payload.get("starts_at")) or event.created_at
    ends_at = _epoch_ms(payload.get("ends_at"))
    if status == RESOLVED and ends_at is None:
        ends_at = event.created_at
    value = payload.get("value")
    summary = annotations.get("summary") or f"{name} on {_about(labels) or event.aggregate}"
    return Alert(
        event=event,
        is_alert=True,
        name=name,
        status=status,
        severity=severity,
        summary=_cut(summary, MAX_TEXT),
        description=_cut(annotations.get("description", ""), MAX_TEXT),
        labels=labels,
        annotations=annotations,
        fingerprint=_text(payload.get("fingerprint"))[:MAX_FINGERPRINT] or _fingerprint(labels),
        starts_at=starts_at,
        ends_at=ends_at,
        value=float(value) if isinstance(value, int | float) and _is_number(value) else None,
        url=_link(payload.get("url")),
        runbook_url=_link(annotations.get("runbook_url")),
    )


def _notice(event: Event, payload: dict[str, Any]) -> Alert:
    summary = f"{event.type} on {event.aggregate}"
    if event.project is not None:
        summary += f" in project {event.project}"
    description = _cut(_json(payload), MAX_TEXT)
    labels = {"alertname": event.type, "severity": "info", "event": event.type, "aggregate": event.aggregate}
    if event.project is not None:
        labels["project"] = event.project
    identity = f"{event.type}\0{event.aggregate}\0{event.id}"
    return Alert(
        event=event,
        is_alert=False,
        name=event.type,
        status=FIRING,
        severity="info",
        summary=summary,
        description=description,
        labels=labels,
        annotations={"summary": summary, "description": description},
        fingerprint=hashlib.sha256(identity.encode()).hexdigest()[:16],
        starts_at=event.created_at,
        ends_at=None,
        value=None,
        url=None,
        runbook_url=None,
    )


def _payload(event: Event) -> dict[str, Any]:
    try:
        payload = event.payload
    except ValueError:
        return {}
    return payload if isinstance(payload, dict) else {}


def _about(labels: dict[str, str]) -> str:
    model, version, alias = (labels.get(key) for key in ("model", "version", "alias"))
    if not model:
        return ""
    about = f"{model} v{version}" if version else model
    return f"{about} ({alias})" if alias else about


def _fingerprint(labels: dict[str, str]) -> str:
    """For an alert event that came without one: from its labels, as Alertmanager does."""
    text = "\0".join(f"{key}\0{labels[key]}" for key in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _strings(value: Any) -> dict[str, str]:
    """A JSON object as string labels: non-string values written as JSON, long ones cut."""
    if not isinstance(value, dict):
        return {}
    found: dict[str, str] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or item is None:
            continue
        text = item if isinstance(item, str) else _json(item)
        found[key] = _cut(text, MAX_LABEL)
    return found


def _json(value: Any) -> str:
    """Compact JSON of what a payload holds (the standard library's: integers of any size)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _epoch_ms(value: Any) -> int | None:
    if not _is_number(value) or not 0 <= value < 253_402_300_800_000:  # before the year 10000
        return None
    return int(value)


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float
        return False


def _link(value: Any) -> str | None:
    """An http(s) URL, or None: a link in a message must not run script (`javascript:`)."""
    text = _text(value)
    return text if text.lower().startswith(("https://", "http://")) and len(text) <= 2048 else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
