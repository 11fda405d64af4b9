"""The `pagerduty` format: an event of PagerDuty's Events API v2 (`POST /v2/enqueue`).

The routing key (the integration key of a PagerDuty service) is the `routing_key` query parameter
of the subscription's URL, `https://events.pagerduty.com/v2/enqueue?routing_key=…`: delivery
takes it out of the URL it requests and puts it in the body, where PagerDuty reads it. It never
appears in an error, in a job, or in the audit log (which records the URL with `…` in its place).

A firing alert is a `trigger`, a resolved one a `resolve`, both with the alert's fingerprint as
the `dedup_key` (one per model version, rule and labels), so that the resolve closes what the
trigger opened. Severities map to PagerDuty's: critical, warning and info as they are, `error`
for any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Event
from plimsoll.core.webhooks.formats.alerts import Alert, alert_of, rfc3339

ROUTING_KEY = "routing_key"
MAX_ROUTING_KEY = 128
MAX_SUMMARY = 1024  # PagerDuty's limit
SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}
UNKNOWN_SEVERITY = "error"


def check(params: Mapping[str, tuple[str, ...]]) -> None:
    """One routing key, printable and without spaces; the message never shows it."""
    keys = params.get(ROUTING_KEY, ())
    if len(keys) != 1:
        raise InvalidParameter(
            "url",
            "a pagerduty webhook's URL takes the integration's key once in its query: "
            "https://events.pagerduty.com/v2/enqueue?routing_key=KEY",
        )
    (key,) = keys
    if not key or len(key) > MAX_ROUTING_KEY or not all("!" <= char <= "~" for char in key):
        raise InvalidParameter(
            "url",
            f"the routing_key must be 1 to {MAX_ROUTING_KEY} printable ASCII characters, without spaces",
        )


def render(
    event: Event, params: Mapping[str, tuple[str, ...]], external_url: str | None
) -> tuple[bytes, str]:
    alert = alert_of(event)
    keys = params.get(ROUTING_KEY, ())
    routing_key = keys[0] if keys else ""
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "resolve" if alert.resolved else "trigger",
        "dedup_key": alert.fingerprint,
    }
    if not alert.resolved:  # a resolve names the alert by its dedup key, nothing more
        body["payload"] = _payload(alert)
        links = [{"href": alert.url, "text": "The alert in Plimsoll"}] if alert.url else []
        if alert.runbook_url:
            links.append({"href": alert.runbook_url, "text": "Runbook"})
        if links:
            body["links"] = links
        body["client"] = "Plimsoll"
        if external_url:
            body["client_url"] = external_url
    return orjson.dumps(body), "application/json"


def severity(alert: Alert) -> str:
    return SEVERITIES.get(alert.severity, UNKNOWN_SEVERITY)


def _payload(alert: Alert) -> dict[str, Any]:
    labels = alert.labels
    summary = f"[{alert.severity}] {alert.title}"
    payload: dict[str, Any] = {
        "summary": summary if len(summary) <= MAX_SUMMARY else summary[: MAX_SUMMARY - 1] + "…",
        "source": _source(alert),
        "severity": severity(alert),
        "timestamp": rfc3339(alert.starts_at),
        "class": alert.name,
        "custom_details": _details(alert),
    }
    if labels.get("model"):
        payload["component"] = labels["model"]
    if labels.get("monitor"):
        payload["group"] = labels["monitor"]
    return payload


def _source(alert: Alert) -> str:
    """What is affected: `model:churn/3` for a model version, else the event's aggregate."""
    model, version = alert.labels.get("model"), alert.labels.get("version")
    if model and version:
        return f"model:{model}/{version}"
    return f"model:{model}" if model else alert.event.aggregate


def _details(alert: Alert) -> dict[str, Any]:
    details: dict[str, Any] = {
        "event": alert.event.type,
        "event_id": alert.event.id,
        "project": alert.event.project,
        "labels": alert.labels,
    }
    if alert.description:
        details["description"] = alert.description
    if alert.value is not None:
        details["value"] = alert.value
    if alert.is_alert:
        details["alert"] = alert.event.aggregate
    return details
