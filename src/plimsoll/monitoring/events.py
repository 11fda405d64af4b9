"""The events monitoring publishes, with their payloads (the catalog validates each).

`monitor.checked` is how a monitor's findings leave monitoring: every check of a window (and every
staleness check of the scheduler) publishes every rule's signal, active or not, so that whoever
turns signals into alerts (the incidents capability) sees a rule start, hold and stop breaking.
A signal is *active* when its value breaks the rule in this window; `consecutive` counts the
windows in a row it has been active (this one included), so a rule with `for_windows` 3 fires on
the third drifted window in a row. `for_s` asks the receiver to hold a signal pending until it has
been active that long (0: as soon as `for_windows` is met).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from plimsoll.core.outbox import EventType


class Window(BaseModel):
    start: int  # epoch ms, inclusive
    end: int  # epoch ms, exclusive


class SegmentValue(BaseModel):
    column: str
    value: str


class Signal(BaseModel):
    rule: str  # the rule's name, unique within its monitor (e.g. "data_drift", "no_data")
    active: bool
    value: float | None  # the monitored value the rule compared (None: not measurable this window)
    op: str  # ">", ">=", "<", "<=", "==", "!="
    threshold: float
    severity: str  # "info", "warning" or "critical"
    for_windows: int
    consecutive: int
    for_s: int = 0
    labels: dict[str, str] = Field(default_factory=dict)  # the rule's own (team=..., feature=...)
    annotations: dict[str, str] = Field(default_factory=dict)  # summary, description, runbook_url


class MonitorChecked(BaseModel):
    project: str
    monitor: str  # the monitor's name (unique in its project)
    monitor_id: str
    model: str
    alias: str
    version: int | None  # the version that held the alias at the window's end
    segment: SegmentValue | None  # a segmented monitor's value (None: all traffic)
    window: Window | None  # None for a staleness check made between windows
    checked_at: int
    signals: list[Signal]
    url: str  # the monitor's page, relative to the server's base URL


EVENTS = (
    EventType(
        "monitor.checked",
        "A monitor checked a window (or found itself stale): every rule's signal, active or not, "
        "with how many windows in a row it has been active.",
        MonitorChecked,
    ),
)
