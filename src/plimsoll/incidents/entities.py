"""Alerts, silences, incidents and their timelines: frozen records and the pure rules about them,
no I/O.

An alert is one fingerprint (one rule of one monitor on one model version and segment, or one
platform problem) with a state: `pending` (its rule breaks, not yet for long enough), `firing`,
`resolved` (it fired, then its rule held again) or `inactive` (it was pending and cleared without
firing). `firing` counts how many times it has fired; each firing has its own history.

An incident gathers the firing alerts of one model (`model` "" for the platform's own) from the
first until a human resolves it: `open` → `acknowledged` → `resolved`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_text, printable
from plimsoll.incidents.matchers import Matcher

PENDING, FIRING, RESOLVED, INACTIVE = "pending", "firing", "resolved", "inactive"
ALERT_STATES: tuple[str, ...] = (PENDING, FIRING, RESOLVED, INACTIVE)
OPEN_ALERT_STATES: tuple[str, ...] = (PENDING, FIRING)
SEVERITIES: tuple[str, ...] = ("critical", "warning", "info")  # most severe first
SOURCES: tuple[str, ...] = ("monitor", "audit", "webhooks", "jobs")
OPEN, ACKNOWLEDGED = "open", "acknowledged"
INCIDENT_STATES: tuple[str, ...] = (OPEN, ACKNOWLEDGED, RESOLVED)
OPEN_INCIDENT_STATES: tuple[str, ...] = (OPEN, ACKNOWLEDGED)
SILENCE_STATES: tuple[str, ...] = ("pending", "active", "expired")
# Who an incident goes to: the model's owner for the first of these roles it names.
OWNER_ROLES: tuple[str, ...] = ("incident_response", "monitoring")
# What a timeline shows besides the incident's own alerts and actions.
TIMELINE_KINDS: tuple[str, ...] = (
    "incident_opened",
    "alert_fired",
    "alert_resolved",
    "acknowledged",
    "note",
    "incident_resolved",
    "alias_moved",
    "gate_decision",
    "model_version",
    "data_version",
    "deployment",
)
MAX_TEXT = 10_000  # a note, a comment
MAX_COMMENT = 2_000
MAX_LIST = 500
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
MAX_SILENCE_S = 366 * 24 * 3600
TIMELINE_BEFORE_MS = 7 * DAY_MS  # how far before an incident its timeline looks
# What counts as blank in text that must say something: JSON Schema's (ECMAScript's) `\s`, spelt
# out, so that the API's document and the service draw the line at the same characters.
BLANKS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SAID_PATTERN = f"^[^\u0000]*[^\u0000{BLANKS}][^\u0000]*$"
_SAID = re.compile(f"[^{BLANKS}]")


class _Wire:
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class Transition(_Wire):
    """One change of an alert's state: its firing's number, the new state, when, the value then."""

    firing: int
    state: str
    at: int
    value: float | None = None
    note: str = ""


@dataclass(frozen=True)
class Alert(_Wire):
    id: str
    fingerprint: str
    project: str | None  # None: a platform alert (audit, webhooks, jobs)
    source: str  # monitor, audit, webhooks or jobs
    rule: str  # the alert's name (`alertname`)
    severity: str
    state: str
    labels: dict[str, str]
    annotations: dict[str, str]
    model: str = ""
    alias: str = ""
    version: int | None = None
    monitor: str = ""
    monitor_id: str = ""
    segment_column: str = ""
    segment_value: str = ""
    value: float | None = None
    op: str = ""
    threshold: float | None = None
    for_windows: int = 1
    for_s: int = 0
    consecutive: int = 0
    active_since: int | None = None  # when it last became pending
    starts_at: int | None = None  # when its latest firing began
    ends_at: int | None = None  # when its latest firing ended
    last_seen: int = 0
    firing: int = 0  # how many times it has fired
    notified: bool = False  # whether its latest firing was announced (not silenced nor inhibited then)
    incident: str | None = None  # the incident its latest firing joined
    monitor_url: str = ""  # the monitor's page, relative to the server's base URL
    url: str | None = None  # the alert's page, when the server knows its public URL
    created_at: int = 0
    updated_at: int = 0
    # Read now, not stored: the active silences that match it, the firing alert that mutes it.
    silenced_by: tuple[str, ...] = ()
    inhibited_by: str | None = None
    history: tuple[Transition, ...] = ()

    @property
    def platform(self) -> bool:
        return self.project is None

    @property
    def summary(self) -> str:
        return self.annotations.get("summary") or f"{self.rule} on {self.about}"

    @property
    def about(self) -> str:
        if not self.model:
            return self.labels.get("source", "the platform")
        about = self.model if self.version is None else f"{self.model} v{self.version}"
        return f"{about} ({self.alias})" if self.alias else about

    @property
    def condition(self) -> str:
        """`> 0.2`: how the value broke the rule (monitors' alerts)."""
        if not self.op or self.threshold is None:
            return ""
        return f"{self.op} {self.threshold:g}"

    @property
    def muted(self) -> bool:
        return bool(self.silenced_by) or self.inhibited_by is not None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["silenced_by"] = list(self.silenced_by)
        data["history"] = [t.to_dict() for t in self.history]
        data["summary"] = self.summary
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        values = _known(cls, data)
        values["silenced_by"] = tuple(data.get("silenced_by", ()))
        values["history"] = tuple(Transition(**t) for t in data.get("history", ()))
        return cls(**values)


@dataclass(frozen=True)
class Silence(_Wire):
    """Matching alerts stay visible and change state, but none of them is announced (no
    notification, no incident) from `starts_at` until `ends_at`."""

    id: str
    project: str | None  # None: silences the platform's alerts
    matchers: tuple[Matcher, ...]
    starts_at: int
    ends_at: int
    comment: str
    created_by: str
    created_at: int
    expired_by: str | None = None
    expired_at: int | None = None

    def state(self, now: int) -> str:
        if now >= self.ends_at:
            return "expired"
        return "active" if now >= self.starts_at else "pending"

    def active(self, now: int) -> bool:
        return self.starts_at <= now < self.ends_at

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["matchers"] = [m.to_dict() for m in self.matchers]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Silence:
        values = _known(cls, data)
        values["matchers"] = tuple(Matcher(**m) for m in data["matchers"])
        return cls(**values)


@dataclass(frozen=True)
class IncidentAlert(_Wire):
    """One firing of an alert, as part of an incident."""

    alert: str
    firing: int
    rule: str
    severity: str
    summary: str
    state: str  # the alert's state now
    joined_at: int
    starts_at: int | None
    ends_at: int | None  # when this firing ended (None: still firing)
    version: int | None = None


@dataclass(frozen=True)
class Note(_Wire):
    author: str
    text: str
    at: int


@dataclass(frozen=True)
class Incident(_Wire):
    id: str
    project: str | None  # None: a platform incident
    model: str  # "" for a platform incident
    version: int | None  # the model version of the alert that opened it
    title: str
    severity: str
    state: str
    owner: str | None  # None: unassigned (the model names no owner for these roles)
    owner_role: str | None
    opened_at: int
    acknowledged_by: str | None = None
    acknowledged_at: int | None = None
    resolved_by: str | None = None
    resolved_at: int | None = None
    resolution: str = ""
    updated_at: int = 0
    alerts: tuple[IncidentAlert, ...] = ()
    notes: tuple[Note, ...] = ()
    url: str | None = None

    @property
    def platform(self) -> bool:
        return self.project is None

    @property
    def open(self) -> bool:
        return self.state in OPEN_INCIDENT_STATES

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["alerts"] = [a.to_dict() for a in self.alerts]
        data["notes"] = [n.to_dict() for n in self.notes]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        values = _known(cls, data)
        values["alerts"] = tuple(IncidentAlert(**a) for a in data.get("alerts", ()))
        values["notes"] = tuple(Note(**n) for n in data.get("notes", ()))
        return cls(**values)


@dataclass(frozen=True)
class TimelineEntry(_Wire):
    """One thing that happened around an incident: `kind` (TIMELINE_KINDS), when, a title, who,
    and `ref` (what it is about: `alert:ID`, `model:NAME/VERSION`, `dataset:NAME@VERSION`, ...)."""

    at: int
    kind: str
    title: str
    detail: str = ""
    actor: str = ""
    ref: str = ""


@dataclass(frozen=True)
class Timeline:
    """What happened from `start` (a week before the incident opened) to `end` (its resolution,
    or now), oldest first."""

    incident: str
    start: int
    end: int
    entries: tuple[TimelineEntry, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident,
            "start": self.start,
            "end": self.end,
            "entries": [e.to_dict() for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        entries = tuple(TimelineEntry(**e) for e in data["entries"])
        return cls(data["incident"], int(data["start"]), int(data["end"]), entries)


# -- rules ---------------------------------------------------------------------------------------


def worst(*severities: str) -> str:
    """The most severe of `severities` (an unknown one counts as info)."""
    rank = {name: index for index, name in enumerate(SEVERITIES)}
    return min(severities, key=lambda s: rank.get(s, len(SEVERITIES)))


def finite(value: Any) -> float | None:
    """A measured value as JSON can carry it: None for a missing or non-finite one."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def check_choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise InvalidParameter(field, f"must be one of {', '.join(choices)}; got {printable(value)!r}")
    return str(value)


def check_said(field: str, value: Any, *, max_length: int = MAX_COMMENT) -> str:
    """Text that must say something: not empty, not only white space."""
    text = check_text(field, value, max_length=max_length)
    if not _SAID.search(text):
        raise InvalidParameter(field, "must not be empty")
    return text


def optional_text(field: str, value: Any, *, max_length: int = MAX_TEXT) -> str:
    """Text that may be left out: "" when it is empty or only white space."""
    text = check_text(field, value or "", max_length=max_length)
    return text if _SAID.search(text) else ""


def _known(cls: Any, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {key: value for key, value in data.items() if key in names}


__all__ = [
    "ALERT_STATES",
    "INCIDENT_STATES",
    "Alert",
    "Incident",
    "IncidentAlert",
    "Note",
    "Silence",
    "Timeline",
    "TimelineEntry",
    "Transition",
]
