"""The `slack` format: a message for an incoming webhook, `{"text", "blocks"}`.

Slack shows the blocks (a header, the summary and description, the alert's fields, buttons to the
alert and its runbook, a context line) and uses `text` for notifications. Mattermost's incoming
webhooks, which take Slack's payload but not its blocks, show `text`: so `text` is the whole
message on its own, written in what both read (emoji codes, `<url|label>` links, no `*bold*`,
which Mattermost would show as italics). Text from the event is escaped (`&`, `<`, `>`), so an
alert's summary cannot mention `<!channel>` or forge a link.
"""

from __future__ import annotations

from typing import Any

import orjson

from plimsoll.core.outbox import Event
from plimsoll.core.webhooks.formats.alerts import Alert, alert_of, rfc3339

MAX_HEADER = 150  # Slack's limits: a header's text, a section's text, a field, fields per section
MAX_SECTION = 3000
MAX_FIELD = 2000
MAX_FIELDS = 10
MAX_DESCRIPTION_IN_TEXT = 1000
EMOJI = {"FIRING": ":rotating_light:", "RESOLVED": ":white_check_mark:", "INFO": ":information_source:"}
FIELDS = (("model", "Model"), ("version", "Version"), ("alias", "Alias"), ("monitor", "Monitor"))


def render(event: Event, external_url: str | None) -> tuple[bytes, str]:
    alert = alert_of(event)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(_headline(alert), MAX_HEADER)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(_summary(alert), MAX_SECTION)}},
    ]
    fields = _fields(alert)
    if fields:
        blocks.append({"type": "section", "fields": fields[:MAX_FIELDS]})
    buttons = [
        {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}
        for label, url in _links(alert, external_url)
    ]
    if buttons:
        blocks.append({"type": "actions", "elements": buttons})
    context = (
        f"Plimsoll · {escape(alert.event.type)} #{alert.event.id} · fingerprint `{escape(alert.fingerprint)}`"
    )
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return orjson.dumps({"text": text(alert, external_url), "blocks": blocks}), "application/json"


def text(alert: Alert, external_url: str | None = None) -> str:
    """The message as one Markdown text, for notifications and for Mattermost."""
    state = alert.state
    tag = f"[{state}]" if state == "INFO" else f"[{state} · {alert.severity}]"
    lines = [f"{EMOJI[state]} {tag} {escape(alert.title)}"]
    if alert.description and alert.is_alert:
        lines.append(escape(_cut(alert.description, MAX_DESCRIPTION_IN_TEXT)))
    facts = [f"{label.lower()} {escape(alert.labels[key])}" for key, label in FIELDS if alert.labels.get(key)]
    if alert.value is not None:
        facts.append(f"value {alert.value:g}")
    if alert.event.project is not None and alert.is_alert:  # a notice's summary names it
        facts.append(f"project {escape(alert.event.project)}")
    if facts:
        lines.append(" · ".join(facts))
    links = _links(alert, external_url)
    if links:
        lines.append(" · ".join(f"<{_url(url)}|{label}>" for label, url in links))
    return "\n".join(lines)


def escape(value: str) -> str:
    """Slack's three control characters, as Slack asks them escaped."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _headline(alert: Alert) -> str:
    return f"{EMOJI[alert.state]} {alert.state}: {alert.name}"


def _summary(alert: Alert) -> str:
    summary = f"*{escape(alert.summary)}*"
    return f"{summary}\n{escape(alert.description)}" if alert.description else summary


def _fields(alert: Alert) -> list[dict[str, str]]:
    found = [("Severity", alert.severity)]
    found += [(label, alert.labels[key]) for key, label in FIELDS if alert.labels.get(key)]
    if alert.value is not None:
        found.append(("Value", f"{alert.value:g}"))
    found.append(("Started", rfc3339(alert.starts_at)))
    if alert.ends_at is not None:
        found.append(("Ended", rfc3339(alert.ends_at)))
    if alert.event.project is not None:
        found.append(("Project", alert.event.project))
    return [
        {"type": "mrkdwn", "text": _cut(f"*{label}*\n{escape(value)}", MAX_FIELD)} for label, value in found
    ]


def _links(alert: Alert, external_url: str | None) -> list[tuple[str, str]]:
    links = []
    if alert.url:
        links.append(("Open in Plimsoll", alert.url))
    elif external_url and not alert.is_alert:
        links.append(("Open Plimsoll", external_url))
    if alert.runbook_url:
        links.append(("Runbook", alert.runbook_url))
    return links


def _url(url: str) -> str:
    """A URL inside `<url|label>`: the characters that would end it, percent-encoded."""
    return url.replace("|", "%7C").replace("<", "%3C").replace(">", "%3E").replace(" ", "%20")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
