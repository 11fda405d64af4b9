"""The alerting formats without a platform: each renders a firing and a resolved alert event of
the monitoring contract, and any other event, in the shape its receiver documents (Alertmanager's
webhook payload v4, PagerDuty's Events API v2, a Slack incoming-webhook message, a MIME email with
a text and an HTML part); what a subscription's URL must hold for each; and that no payload makes
a format fail."""

from __future__ import annotations

import copy
import email
import email.policy
import re
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Event
from plimsoll.core.webhooks.formats import (
    FORMATS,
    Destination,
    audited_url,
    check_target,
    destination,
    render,
    request_url,
)

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
STARTS, ENDS = 1_796_563_200_000, 1_796_566_800_250  # 2026-12-06T13:20:00Z, an hour later
KEY = "R0123456789abcdef0123456789ABCD"
PUBLIC = "https://plimsoll.example.org"
ALERT_TYPES = ("plimsoll", "alertmanager", "pagerduty", "slack", "email")


def alert_payload(*, status: str = "firing", version: str = "3", **changes: Any) -> dict[str, Any]:
    """The monitoring contract's payload (docs/webhooks.md, "Alert events")."""
    payload: dict[str, Any] = {
        "alert": "0193f3c2a1b24c5d8e9f0a1b2c3d4e5f",
        "rule": "feature-drift",
        "status": status,
        "severity": "warning",
        "fingerprint": f"fp-churn-{version}-feature-drift",
        "labels": {
            "alertname": "feature-drift",
            "model": "churn",
            "version": version,
            "alias": "production",
            "monitor": "churn-prod",
            "severity": "warning",
        },
        "annotations": {
            "summary": "Feature drift on churn v3: PSI of tenure 0.31 > 0.2",
            "description": "The distribution of `tenure` moved since the reference window.",
            "runbook_url": "https://runbooks.example.org/drift",
        },
        "starts_at": STARTS,
        "ends_at": ENDS if status == "resolved" else None,
        "value": 0.31,
        "url": f"{PUBLIC}/alerts/0193f3c2a1b24c5d8e9f0a1b2c3d4e5f",
    }
    payload.update(changes)
    return payload


def event(type: str, payload: Any, *, id: int = 42, aggregate: str | None = None) -> Event:
    aggregate = aggregate or (
        "alert:0193f3c2a1b24c5d8e9f0a1b2c3d4e5f" if type.startswith("alert.") else "x:1"
    )
    return Event(id, type, aggregate, "default", "monitor", orjson.dumps(payload).decode(), STARTS + 500)


FIRING = event("alert.firing", alert_payload())
RESOLVED = event("alert.resolved", alert_payload(status="resolved"), id=43)
REJECTED = event(
    "promotion.rejected",
    {"model": "churn", "version": 3, "alias": "production", "reason": "gates failed"},
    aggregate="promotion:0193aaaa",
)


def as_json(name: str, source: Event, to: Destination | None = None) -> Any:
    body, content_type = render(name, source, to or Destination("oncall", {}, PUBLIC))
    assert content_type == "application/json"
    return orjson.loads(body)


def pagerduty(source: Event) -> Any:
    return as_json("pagerduty", source, Destination("oncall", {"routing_key": (KEY,)}, PUBLIC))


def is_rfc3339(text: str) -> bool:
    return bool(RFC3339.match(text)) and datetime.fromisoformat(text).tzinfo is not None


# --- Alertmanager ---------------------------------------------------------------------------


def test_alertmanager_v4_firing() -> None:
    body = as_json("alertmanager", FIRING)
    assert set(body) == {
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    }
    assert (body["version"], body["status"], body["receiver"], body["truncatedAlerts"]) == (
        "4",
        "firing",
        "oncall",
        0,
    )
    assert body["groupLabels"] == {"alertname": "feature-drift", "model": "churn", "version": "3"}
    assert body["groupKey"] == '{}:{alertname="feature-drift", model="churn", version="3"}'
    assert body["externalURL"] == PUBLIC
    (alert,) = body["alerts"]
    assert set(alert) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert alert["status"] == "firing" and alert["fingerprint"] == "fp-churn-3-feature-drift"
    assert alert["labels"] == {
        "alertname": "feature-drift",
        "model": "churn",
        "version": "3",
        "alias": "production",
        "monitor": "churn-prod",
        "severity": "warning",
        "project": "default",
    }
    assert alert["annotations"]["summary"].startswith("Feature drift on churn v3")
    assert alert["annotations"]["runbook_url"] == "https://runbooks.example.org/drift"
    assert alert["annotations"]["value"] == "0.31"
    # Alertmanager's types: labels and annotations map strings to strings
    for mapping in (alert["labels"], alert["annotations"], body["commonLabels"], body["commonAnnotations"]):
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items())
    assert alert["startsAt"] == "2026-12-06T13:20:00.000Z" and is_rfc3339(alert["startsAt"])
    assert alert["endsAt"] == "0001-01-01T00:00:00Z"  # Go's zero time: not ended
    assert alert["generatorURL"] == f"{PUBLIC}/alerts/0193f3c2a1b24c5d8e9f0a1b2c3d4e5f"
    assert body["commonLabels"] == alert["labels"] and body["commonAnnotations"] == alert["annotations"]


def test_alertmanager_v4_resolved() -> None:
    firing, resolved = as_json("alertmanager", FIRING), as_json("alertmanager", RESOLVED)
    (alert,) = resolved["alerts"]
    assert resolved["status"] == alert["status"] == "resolved"
    assert alert["endsAt"] == "2026-12-06T14:20:00.250Z" and is_rfc3339(alert["endsAt"])
    assert alert["startsAt"] == firing["alerts"][0]["startsAt"]
    assert alert["fingerprint"] == firing["alerts"][0]["fingerprint"]
    assert resolved["groupKey"] == firing["groupKey"]


def test_alertmanager_label_values_are_quoted_in_the_group_key() -> None:
    payload = alert_payload(labels={"alertname": 'odd "rule"', "model": "m\\1", "version": "7"})
    body = as_json("alertmanager", event("alert.firing", payload))
    assert body["groupKey"] == r'{}:{alertname="odd \"rule\"", model="m\\1", version="7"}'


# --- PagerDuty ------------------------------------------------------------------------------


def test_pagerduty_trigger() -> None:
    body = pagerduty(FIRING)
    assert set(body) <= {
        "routing_key",
        "event_action",
        "dedup_key",
        "payload",
        "images",
        "links",
        "client",
        "client_url",
    }
    assert (body["routing_key"], body["event_action"], body["dedup_key"]) == (
        KEY,
        "trigger",
        "fp-churn-3-feature-drift",
    )
    payload = body["payload"]
    assert {"summary", "source", "severity"} <= set(payload)  # PagerDuty's required fields
    assert set(payload) <= {
        "summary",
        "source",
        "severity",
        "timestamp",
        "component",
        "group",
        "class",
        "custom_details",
    }
    assert (
        payload["summary"] == "[warning] feature-drift: Feature drift on churn v3: PSI of tenure 0.31 > 0.2"
    )
    assert (payload["source"], payload["severity"], payload["class"]) == (
        "model:churn/3",
        "warning",
        "feature-drift",
    )
    assert (payload["component"], payload["group"]) == ("churn", "churn-prod")
    assert payload["timestamp"] == "2026-12-06T13:20:00.000Z" and is_rfc3339(payload["timestamp"])
    details = payload["custom_details"]
    assert details["value"] == 0.31 and details["labels"]["alias"] == "production"
    assert details["event"] == "alert.firing" and details["project"] == "default"
    assert body["links"] == [
        {"href": f"{PUBLIC}/alerts/0193f3c2a1b24c5d8e9f0a1b2c3d4e5f", "text": "The alert in Plimsoll"},
        {"href": "https://runbooks.example.org/drift", "text": "Runbook"},
    ]
    assert (body["client"], body["client_url"]) == ("Plimsoll", PUBLIC)


def test_pagerduty_resolve_names_the_alert_by_its_dedup_key_only() -> None:
    assert pagerduty(RESOLVED) == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": pagerduty(FIRING)["dedup_key"],
    }


def test_the_dedup_key_is_one_per_model_version_and_rule() -> None:
    other_version = pagerduty(event("alert.firing", alert_payload(version="4")))["dedup_key"]
    assert other_version != pagerduty(FIRING)["dedup_key"]
    # without a fingerprint (a payload breaking the contract), one is made from the labels:
    # the same for the firing and the resolved event, another for another version or rule
    keys = {}
    for version in ("3", "4"):
        for status in ("firing", "resolved"):
            source = event(
                f"alert.{status}",
                {
                    k: v
                    for k, v in alert_payload(status=status, version=version).items()
                    if k != "fingerprint"
                },
            )
            keys[version, status] = pagerduty(source)["dedup_key"]
    assert keys["3", "firing"] == keys["3", "resolved"] != keys["4", "firing"] == keys["4", "resolved"]
    assert re.fullmatch(r"[0-9a-f]{16}", keys["3", "firing"])


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", "critical"),
        ("warning", "warning"),
        ("info", "info"),
        ("error", "error"),
        ("CRITICAL", "critical"),
        ("page-me", "error"),
    ],
)
def test_pagerduty_severities(severity: str, expected: str) -> None:
    body = pagerduty(event("alert.firing", alert_payload(severity=severity)))
    assert body["payload"]["severity"] == expected


def test_a_pagerduty_summary_fits_its_limit() -> None:
    long = alert_payload(annotations={"summary": "drift " * 500})
    assert len(pagerduty(event("alert.firing", long))["payload"]["summary"]) == 1024


# --- Slack ------------------------------------------------------------------------------------


def test_slack_firing_message() -> None:
    body = as_json("slack", FIRING)
    assert set(body) == {"text", "blocks"}
    text = body["text"]
    # the text alone is the message (Mattermost shows only it): state, severity, title, facts, links
    assert text.splitlines()[0] == (
        ":rotating_light: [FIRING · warning] feature-drift: Feature drift on churn v3: PSI of tenure 0.31 &gt; 0.2"
    )
    assert "model churn · version 3 · alias production · monitor churn-prod · value 0.31" in text
    assert f"<{PUBLIC}/alerts/0193f3c2a1b24c5d8e9f0a1b2c3d4e5f|Open in Plimsoll>" in text
    assert "<https://runbooks.example.org/drift|Runbook>" in text
    assert "**" not in text and "*" not in text.replace("`", "")  # Mattermost reads *x* as italics
    types = [block["type"] for block in body["blocks"]]
    assert types == ["header", "section", "section", "actions", "context"]
    header, summary, fields, actions, context = body["blocks"]
    assert header["text"] == {"type": "plain_text", "text": ":rotating_light: FIRING: feature-drift"}
    assert summary["text"]["type"] == "mrkdwn" and summary["text"]["text"].startswith(
        "*Feature drift on churn v3"
    )
    assert len(fields["fields"]) <= 10 and "*Severity*\nwarning" in [f["text"] for f in fields["fields"]]
    assert "*Started*\n2026-12-06T13:20:00.000Z" in [f["text"] for f in fields["fields"]]
    assert [(b["text"]["text"], b["url"]) for b in actions["elements"]] == [
        ("Open in Plimsoll", f"{PUBLIC}/alerts/0193f3c2a1b24c5d8e9f0a1b2c3d4e5f"),
        ("Runbook", "https://runbooks.example.org/drift"),
    ]
    assert "fp-churn-3-feature-drift" in context["elements"][0]["text"]


def test_slack_resolved_message() -> None:
    body = as_json("slack", RESOLVED)
    assert body["text"].startswith(":white_check_mark: [RESOLVED · warning] feature-drift: ")
    assert body["blocks"][0]["text"]["text"] == ":white_check_mark: RESOLVED: feature-drift"
    fields = [f["text"] for f in body["blocks"][2]["fields"]]
    assert "*Ended*\n2026-12-06T14:20:00.250Z" in fields


def test_slack_escapes_what_the_event_says_and_drops_links_that_are_not_http() -> None:
    payload = alert_payload(
        annotations={
            "summary": "<!channel> drift & <https://evil.example|click>",
            "runbook_url": "javascript:alert(1)",
        },
        url="javascript:alert(1)",
    )
    body = as_json("slack", event("alert.firing", payload))
    rendered = orjson.dumps(body).decode()
    assert (
        "<!channel>" not in rendered
        and "&lt;!channel&gt; drift &amp; &lt;https://evil.example|click&gt;" in rendered
    )
    assert "javascript:" not in rendered
    assert "actions" not in [block["type"] for block in body["blocks"]]


def test_slack_respects_block_limits() -> None:
    payload = alert_payload(
        rule="r" * 400,
        annotations={"summary": "s" * 5000, "description": "d" * 5000},
        labels={"model": "m" * 3000, "version": "1"},
    )
    body = as_json("slack", event("alert.firing", payload))
    header, summary, fields = body["blocks"][:3]
    assert len(header["text"]["text"]) <= 150 and len(summary["text"]["text"]) <= 3000
    assert all(len(field["text"]) <= 2000 for field in fields["fields"])


# --- email ------------------------------------------------------------------------------------

MAIL = Destination(
    "oncall-mail", {"to": ("oncall@example.org, ml@example.org",), "from": ("plimsoll@example.org",)}, PUBLIC
)


def message_of(source: Event, to: Destination = MAIL) -> EmailMessage:
    body, content_type = render("email", source, to)
    assert content_type == "message/rfc822"
    message = email.message_from_bytes(body, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def parts_of(message: EmailMessage) -> tuple[str, str]:
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    return plain.get_content(), html.get_content()  # type: ignore[attr-defined]


def test_email_firing_has_a_text_and_an_html_part() -> None:
    message = message_of(FIRING)
    assert (
        message["Subject"]
        == "[FIRING:warning] feature-drift: Feature drift on churn v3: PSI of tenure 0.31 > 0.2"
    )
    assert (message["From"], message["To"]) == ("plimsoll@example.org", "oncall@example.org, ml@example.org")
    assert message["Auto-Submitted"] == "auto-generated"
    plain, html = parts_of(message)
    assert "The distribution of `tenure` moved" in plain and "model: churn" in plain and "version: 3" in plain
    assert "started: 2026-12-06T13:20:00.000Z" in plain and "value: 0.31" in plain
    assert f"The alert in Plimsoll: {PUBLIC}/alerts/0193f3c2a1b24c5d8e9f0a1b2c3d4e5f" in plain
    assert "Runbook: https://runbooks.example.org/drift" in plain
    assert "<h2>feature-drift: Feature drift on churn v3: PSI of tenure 0.31 &gt; 0.2</h2>" in html
    assert '<a href="https://runbooks.example.org/drift">Runbook</a>' in html


def test_email_resolved_and_escaped() -> None:
    message = message_of(RESOLVED)
    assert message["Subject"].startswith("[RESOLVED:warning] feature-drift")
    plain, _ = parts_of(message)
    assert "ended: 2026-12-06T14:20:00.250Z" in plain
    sneaky = alert_payload(
        annotations={"summary": "line\r\nBcc: all@example.org", "description": "<script>x</script>"}
    )
    message = message_of(event("alert.firing", sneaky))
    assert "Bcc" not in message and "\n" not in message["Subject"]
    _, html = parts_of(message)
    assert "<script>" not in html and "&lt;script&gt;" in html


# --- any other event ----------------------------------------------------------------------------


def test_other_events_are_info_notifications_naming_the_type_and_aggregate() -> None:
    named = "promotion.rejected on promotion:0193aaaa in project default"
    manager = as_json("alertmanager", REJECTED)
    (alert,) = manager["alerts"]
    assert alert["labels"]["severity"] == "info" and alert["labels"]["alertname"] == "promotion.rejected"
    assert alert["annotations"]["summary"] == named and alert["status"] == "firing"
    assert '"reason":"gates failed"' in alert["annotations"]["description"]
    duty = pagerduty(REJECTED)
    assert (duty["event_action"], duty["payload"]["severity"]) == ("trigger", "info")
    assert named in duty["payload"]["summary"] and duty["payload"]["source"] == "promotion:0193aaaa"
    # one notification per event: another event of the same aggregate is another alert
    again = event("promotion.rejected", {}, id=99, aggregate="promotion:0193aaaa")
    assert pagerduty(again)["dedup_key"] != duty["dedup_key"]
    assert as_json("slack", REJECTED)["text"].startswith(f":information_source: [INFO] {named}")
    assert message_of(REJECTED)["Subject"] == f"[INFO] {named}"


# What the outbox can hold (it writes payloads with orjson: integers of at most 64 bits).
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=30,
)
CONTRACT_FIELDS = list(alert_payload())


@settings(max_examples=150, deadline=None)
@given(
    type=st.sampled_from(["alert.firing", "alert.fired", "alert.resolved", "job.dead", "alias.moved"]),
    payload=JSON | st.dictionaries(st.sampled_from(CONTRACT_FIELDS), JSON, max_size=len(CONTRACT_FIELDS)),
    name=st.sampled_from(ALERT_TYPES),
)
def test_no_payload_makes_a_format_fail(type: str, payload: Any, name: str) -> None:
    """A payload that breaks the contract (fields missing, of other types) still renders."""
    to = Destination("r", {"routing_key": (KEY,), "to": ("a@example.org",), "from": ("b@example.org",)}, None)
    body, _ = render(name, event(type, payload), to)
    assert body


@pytest.mark.parametrize("field", ["labels", "annotations", "starts_at", "fingerprint", "severity", "rule"])
def test_a_field_missing_falls_back(field: str) -> None:
    payload = copy.deepcopy(alert_payload())
    del payload[field]
    body = as_json("alertmanager", event("alert.firing", payload))
    (alert,) = body["alerts"]
    assert alert["labels"]["alertname"] and alert["labels"]["severity"] and alert["fingerprint"]
    assert is_rfc3339(alert["startsAt"])


# --- what a subscription's URL holds ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        ("pagerduty", "https://events.pagerduty.com/v2/enqueue", "routing_key=KEY"),
        ("pagerduty", f"https://events.pagerduty.com/v2/enqueue?routing_key={KEY}&routing_key=x", "once"),
        ("pagerduty", "https://events.pagerduty.com/v2/enqueue?routing_key=", "printable"),
        ("pagerduty", "https://events.pagerduty.com/v2/enqueue?routing_key=a%20b", "without spaces"),
        (
            "alertmanager",
            "smtp://mail.example.org?to=a@example.org&from=b@example.org",
            "must use http or https",
        ),
        ("email", "https://mail.example.org/?to=a@example.org&from=b@example.org", "must use smtp or smtps"),
        ("email", "smtp://mail.example.org:587?from=b@example.org", "names no recipient"),
        ("email", "smtp://mail.example.org:587?to=a@example.org", "one sender"),
        ("email", "smtp://mail.example.org:587?to=not-an-address&from=b@example.org", "not an email address"),
        ("email", "smtp://mail.example.org:587?to=a@example.org&from=b@example.org&cc=c@example.org", "'cc'"),
        ("email", "smtp://mail.example.org:587/inbox?to=a@example.org&from=b@example.org", "has no path"),
        ("email", "smtp://user:pw@mail.example.org?to=a@example.org&from=b@example.org", "credentials"),
        (
            "email",
            "smtp://127.0.0.1:25?to=a@example.org&from=b@example.org",
            "PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE",
        ),
    ],
)
def test_a_url_the_format_cannot_use_names_the_url(name: str, url: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_target(name, url, allow_private=False)
    assert caught.value.field == "url" and message in caught.value.message
    assert KEY not in caught.value.message


def test_the_format_s_own_parameters_stay_with_plimsoll() -> None:
    url = f"https://events.example.org/v2/enqueue?region=eu&routing_key={KEY}&x=a%20b"
    assert check_target("pagerduty", url, allow_private=False) == url
    assert request_url("pagerduty", url) == "https://events.example.org/v2/enqueue?region=eu&x=a%20b"
    assert (
        audited_url("pagerduty", url)
        == "https://events.example.org/v2/enqueue?region=eu&routing_key=…&x=a%20b"
    )
    assert destination("pagerduty", "pd", url, None).params == {"routing_key": (KEY,)}
    mail = "smtps://mail.example.org?to=a@example.org,b@example.org&to=c@example.org&from=p@example.org"
    assert check_target("email", mail, allow_private=False) == mail
    assert request_url("email", mail) == "smtps://mail.example.org"
    assert audited_url("email", mail) == mail  # addresses are not credentials
    # the other formats keep their URL whole, query included (a receiver's token)
    for name in ("plimsoll", "alertmanager", "slack"):
        hook = "https://hooks.example.org/services/T0/B0/s3cret?routing_key=theirs"
        assert request_url(name, hook) == audited_url(name, hook) == hook


def test_every_format_is_registered() -> None:
    assert sorted(FORMATS) == sorted(ALERT_TYPES)


def test_the_documented_bodies_are_what_the_formats_render() -> None:
    """docs/webhooks.md renders its example events in a Python block, then shows each body under a
    `<!-- webhook-body: FORMAT fired|resolved -->` comment: the same bodies, field for field."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()
    preview = next(
        block.split("```", 1)[0]
        for block in doc.split("```python\n")[1:]
        if "from plimsoll.core.webhooks.formats import Destination, render" in block
    )
    namespace: dict[str, Any] = {}
    exec(preview, namespace)
    shown = re.findall(r"<!-- webhook-body: (\w+) (fired|resolved) -->\n```json\n(.*?)```", doc, re.DOTALL)
    assert {(name, state) for name, state, _ in shown} == {
        ("alertmanager", "fired"),
        ("pagerduty", "fired"),
        ("pagerduty", "resolved"),
        ("slack", "fired"),
    }
    for name, state, body in shown:
        rendered, _ = render(name, namespace[state], namespace["to"])
        assert orjson.loads(body) == orjson.loads(rendered), f"docs/webhooks.md: the {name} body ({state})"
