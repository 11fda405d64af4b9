"""The `email` format: a message with a plain-text and an HTML part, sent over SMTP (`smtp.py`).

The subscription's URL names the mail server and the envelope:
`smtp://mail.example.org:587?to=oncall@example.org&to=ml@example.org&from=plimsoll@example.org`
(`to` repeated or comma-separated; `smtps://` for TLS from the first byte). A login to the mail
server never comes from the URL: it is the server's configuration (docs/webhooks.md, "email").

The rendered bytes are the message with its Subject, From and To; the delivery adds what belongs
to one attempt (Date, Message-ID, the `X-Plimsoll-*` headers) when it sends it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from email.message import EmailMessage
from urllib.parse import parse_qs

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Event
from plimsoll.core.webhooks.formats.alerts import Alert, alert_of, rfc3339
from plimsoll.core.webhooks.targets import Target

TO, FROM = "to", "from"
PARAMS = (TO, FROM)
MAX_RECIPIENTS = 50
MAX_SUBJECT = 200
# A plain address (no display name): an ASCII local part without the characters that would make
# it quoted, at a domain name.
ADDRESS = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
)
EXAMPLE = "smtp://mail.example.org:587?to=oncall@example.org&from=plimsoll@example.org"
COLORS = {"FIRING": "#b42318", "RESOLVED": "#067647", "INFO": "#175cd3"}


def check(target: Target, params: Mapping[str, tuple[str, ...]]) -> None:
    """An email URL names no path, only `to` and `from`, at least one recipient and one sender."""
    path, _, query = target.path.partition("?")
    if path not in ("", "/"):
        raise InvalidParameter("url", f"an email webhook's URL has no path, such as {EXAMPLE}")
    unknown = sorted(set(parse_qs(query, keep_blank_values=True)) - set(PARAMS))
    if unknown:
        raise InvalidParameter("url", f"takes only `to` and `from` in its query, not {unknown[0]!r}")
    to = recipients(params)
    if not to:
        raise InvalidParameter("url", f"names no recipient: add `to=ADDRESS` to its query, as in {EXAMPLE}")
    if len(to) > MAX_RECIPIENTS:
        raise InvalidParameter("url", f"names {len(to)} recipients; the limit is {MAX_RECIPIENTS}")
    senders = params.get(FROM, ())
    if len(senders) != 1:
        raise InvalidParameter("url", f"needs one sender, `from=ADDRESS`, as in {EXAMPLE}")
    for address in (*to, *senders):
        if len(address) > 254 or not ADDRESS.fullmatch(address):
            raise InvalidParameter("url", f"{address!r} is not an email address such as oncall@example.org")


def recipients(params: Mapping[str, tuple[str, ...]]) -> list[str]:
    found: list[str] = []
    for value in params.get(TO, ()):
        found += [address.strip() for address in value.split(",") if address.strip()]
    return list(dict.fromkeys(found))


def sender(params: Mapping[str, tuple[str, ...]]) -> str:
    senders = params.get(FROM, ())
    return senders[0].strip() if senders else ""


def render(
    event: Event, params: Mapping[str, tuple[str, ...]], receiver: str, external_url: str | None
) -> tuple[bytes, str]:
    alert = alert_of(event)
    message = EmailMessage()
    message["Subject"] = subject(alert)
    if sender(params):
        message["From"] = sender(params)
    if recipients(params):
        message["To"] = ", ".join(recipients(params))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation replies to this
    message.set_content(text(alert, receiver, external_url))
    message.add_alternative(html_body(alert, receiver, external_url), subtype="html")
    return message.as_bytes(), "message/rfc822"


def subject(alert: Alert) -> str:
    state = alert.state
    tag = f"[{state}]" if state == "INFO" else f"[{state}:{alert.severity}]"
    line = " ".join(f"{tag} {alert.title}".split())  # one line: a header holds no line break
    return line if len(line) <= MAX_SUBJECT else line[: MAX_SUBJECT - 1] + "…"


def text(alert: Alert, receiver: str, external_url: str | None) -> str:
    lines = [subject(alert), ""]
    if alert.description:
        lines += [alert.description, ""]
    lines += [f"{label}: {value}" for label, value in _facts(alert)]
    links = _links(alert, external_url)
    if links:
        lines += ["", *(f"{label}: {url}" for label, url in links)]
    lines += ["", "-- ", _footer(alert, receiver)]
    return "\n".join(lines) + "\n"


def html_body(alert: Alert, receiver: str, external_url: str | None) -> str:
    state, esc = alert.state, html.escape
    tag = state if state == "INFO" else f"{state} · {alert.severity}"
    rows = "".join(
        f'<tr><th align="left" style="padding-right:1em">{esc(label)}</th><td>{esc(value)}</td></tr>'
        for label, value in _facts(alert)
    )
    links = " · ".join(f'<a href="{esc(url)}">{esc(label)}</a>' for label, url in _links(alert, external_url))
    description = esc(alert.description).replace("\n", "<br>\n")
    return (
        '<!DOCTYPE html>\n<html><body style="font-family:sans-serif">\n'
        f'<p style="color:{COLORS[state]};font-weight:bold">{esc(tag)}</p>\n'
        f"<h2>{esc(alert.title)}</h2>\n"
        + (f"<p>{description}</p>\n" if description else "")
        + f"<table>{rows}</table>\n"
        + (f"<p>{links}</p>\n" if links else "")
        + f'<p style="color:#667085;font-size:small">{esc(_footer(alert, receiver))}</p>\n'
        "</body></html>\n"
    )


def _facts(alert: Alert) -> list[tuple[str, str]]:
    facts = [("severity", alert.severity)] + ([("status", alert.status)] if alert.is_alert else [])
    facts += [(key, value) for key, value in sorted(alert.labels.items()) if key != "severity"]
    if alert.value is not None:
        facts.append(("value", f"{alert.value:g}"))
    facts.append(("started", rfc3339(alert.starts_at)))
    if alert.ends_at is not None:
        facts.append(("ended", rfc3339(alert.ends_at)))
    return facts


def _links(alert: Alert, external_url: str | None) -> list[tuple[str, str]]:
    links = []
    if alert.url:
        links.append(("The alert in Plimsoll", alert.url))
    elif external_url:
        links.append(("Plimsoll", external_url))
    if alert.runbook_url:
        links.append(("Runbook", alert.runbook_url))
    return links


def _footer(alert: Alert, receiver: str) -> str:
    event = alert.event
    to = f" for the webhook subscription {receiver!r}" if receiver else ""
    return f"Sent by Plimsoll{to}: event {event.type} #{event.id}, fingerprint {alert.fingerprint}."
