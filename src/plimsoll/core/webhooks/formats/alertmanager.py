"""The `alertmanager` format: the body Alertmanager's webhook receiver POSTs (payload version 4),
with one alert per notification, so that tools written for Alertmanager take Plimsoll's alerts
as they are.

The group is the alert's rule and model version (`groupLabels`: alertname, model and version,
those present); `groupKey` is spelled as Alertmanager spells it (`{}:{alertname="…", …}`). An
alert still firing ends at Go's zero time (`0001-01-01T00:00:00Z`), as Alertmanager's own do.
"""

from __future__ import annotations

import json

import orjson

from plimsoll.core.outbox import Event
from plimsoll.core.webhooks.formats.alerts import alert_of, rfc3339

VERSION = "4"
GROUP_BY = ("alertname", "model", "version")
NOT_ENDED = "0001-01-01T00:00:00Z"


def render(event: Event, receiver: str, external_url: str | None) -> tuple[bytes, str]:
    alert = alert_of(event)
    annotations = dict(alert.annotations)
    annotations.setdefault("summary", alert.summary)
    if alert.value is not None:
        annotations.setdefault("value", repr(alert.value))
    group_labels = {key: alert.labels[key] for key in GROUP_BY if key in alert.labels}
    body = {
        "version": VERSION,
        "groupKey": "{}:" + label_set(group_labels),
        "truncatedAlerts": 0,
        "status": alert.status,
        "receiver": receiver,
        "groupLabels": group_labels,
        # one alert: what the group's alerts share is all of that alert's labels and annotations
        "commonLabels": alert.labels,
        "commonAnnotations": annotations,
        "externalURL": external_url or "",
        "alerts": [
            {
                "status": alert.status,
                "labels": alert.labels,
                "annotations": annotations,
                "startsAt": rfc3339(alert.starts_at),
                "endsAt": NOT_ENDED if alert.ends_at is None else rfc3339(alert.ends_at),
                "generatorURL": alert.url or external_url or "",
                "fingerprint": alert.fingerprint,
            }
        ],
    }
    return orjson.dumps(body), "application/json"


def label_set(labels: dict[str, str]) -> str:
    """`{alertname="feature-drift", model="churn"}`: a label set as Alertmanager writes one
    (sorted by name, values quoted)."""
    pairs = ", ".join(f"{key}={json.dumps(labels[key], ensure_ascii=False)}" for key in sorted(labels))
    return "{" + pairs + "}"
