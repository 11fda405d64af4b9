"""The events the incidents capability publishes, with their payloads (the catalog validates each).

`alert.fired` and `alert.resolved` carry the payload the webhook formats read (docs/webhooks.md,
"Alert events"): one event per firing announced and per announced firing that ends, so that a
receiver deduplicates on `fingerprint`. A firing that was silenced or inhibited is not announced,
and neither is its end.
"""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType

ALERT_FIRED = "alert.fired"
ALERT_RESOLVED = "alert.resolved"
INCIDENT_OPENED = "incident.opened"
INCIDENT_ACKNOWLEDGED = "incident.acknowledged"
INCIDENT_RESOLVED = "incident.resolved"


class AlertChanged(BaseModel):
    alert: str  # the alert's id (one per fingerprint)
    rule: str
    status: str  # "firing" or "resolved"
    severity: str  # critical, warning or info
    fingerprint: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: int  # epoch ms
    ends_at: int | None
    value: float | None
    url: str | None  # the alert's page (with PLIMSOLL_PUBLIC_URL set)


class IncidentOpened(BaseModel):
    incident: str
    project: str | None  # None: a platform incident
    model: str  # "" for a platform incident
    version: int | None
    title: str
    severity: str
    owner: str | None  # None: unassigned
    alerts: list[str]
    opened_at: int
    url: str | None


class IncidentAcknowledged(BaseModel):
    incident: str
    project: str | None
    model: str
    by: str
    at: int


class IncidentResolved(BaseModel):
    incident: str
    project: str | None
    model: str
    by: str
    at: int
    resolution: str


EVENTS = (
    EventType(
        ALERT_FIRED,
        "An alert started firing and was announced (not silenced, not inhibited): the payload the "
        "alerting webhook formats read (docs/webhooks.md).",
        AlertChanged,
    ),
    EventType(
        ALERT_RESOLVED,
        "An announced alert stopped firing (its rule held again, or a human resolved a platform "
        "alert): the same payload, `status` resolved and `ends_at` set.",
        AlertChanged,
    ),
    EventType(
        INCIDENT_OPENED,
        "A firing alert opened an incident for its model (or for the platform), assigned to the "
        "model's incident-response or monitoring owner.",
        IncidentOpened,
    ),
    EventType(
        INCIDENT_ACKNOWLEDGED, "Someone acknowledged an incident: they are on it.", IncidentAcknowledged
    ),
    EventType(INCIDENT_RESOLVED, "Someone resolved an incident, saying how.", IncidentResolved),
)
