"""The bodies a webhook can carry, by format name: `render(format, event, destination) -> (body,
content type)`.

A format is a function of the event and of its `Destination` (the subscription's name, the URL
query parameters that are the format's own, the server's public URL), so a new kind of receiver
is one more entry in `FORMATS`, delivered, signed and retried by the same path as the rest
(docs/webhooks.md, "Formats"):

- `plimsoll`: the event as the events API shows it;
- `alertmanager`: Alertmanager's webhook payload, version 4;
- `pagerduty`: a PagerDuty Events API v2 event (the routing key from the URL's query);
- `slack`: a Slack incoming-webhook message (text plus blocks; Mattermost reads the text);
- `email`: a message with a plain-text and an HTML part, sent over SMTP to an `smtp://` or
  `smtps://` URL naming the recipients.

The alerting formats render any event through one view (`alerts.alert_of`): the monitoring
contract's alert events as alerts, every other event as an `info` notification.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qs, unquote_plus, urlsplit, urlunsplit

import orjson

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Event
from plimsoll.core.webhooks.formats import alertmanager, mail, pagerduty, slack
from plimsoll.core.webhooks.formats.alerts import Alert, alert_of, rfc3339
from plimsoll.core.webhooks.targets import HTTP_SCHEMES, SMTP_SCHEMES, Target, check_url, parse_url

Params = Mapping[str, tuple[str, ...]]


@dataclass(frozen=True)
class Destination:
    """What a format may read besides the event."""

    receiver: str = ""  # the subscription's name
    params: Params = field(default_factory=dict)  # the URL's query parameters that are the format's
    external_url: str | None = None  # where users reach Plimsoll (PLIMSOLL_PUBLIC_URL), for links


Renderer = Callable[[Event, Destination], tuple[bytes, str]]


@dataclass(frozen=True)
class Format:
    """One kind of receiver: how an event is rendered, and what its URL must be."""

    render: Renderer
    schemes: tuple[str, ...] = HTTP_SCHEMES
    # Query parameters of the URL that are the format's own: read by Plimsoll, never sent on.
    params: tuple[str, ...] = ()
    # Of those, the credentials: kept out of the audit log (the URL shows `…` in their place).
    secrets: tuple[str, ...] = ()
    # The rules for the URL beyond its scheme and host: InvalidParameter naming `url`.
    check: Callable[[Target, Params], None] | None = None


def plimsoll_json(event: Event, destination: Destination | None = None) -> tuple[bytes, str]:
    """The event as the events API shows it (`Event.to_dict()`)."""
    return orjson.dumps(event.to_dict()), "application/json"


FORMATS: dict[str, Format] = {
    "plimsoll": Format(plimsoll_json),
    "alertmanager": Format(lambda event, to: alertmanager.render(event, to.receiver, to.external_url)),
    "pagerduty": Format(
        lambda event, to: pagerduty.render(event, to.params, to.external_url),
        params=(pagerduty.ROUTING_KEY,),
        secrets=(pagerduty.ROUTING_KEY,),
        check=lambda _target, params: pagerduty.check(params),
    ),
    "slack": Format(lambda event, to: slack.render(event, to.external_url)),
    "email": Format(
        lambda event, to: mail.render(event, to.params, to.receiver, to.external_url),
        schemes=SMTP_SCHEMES,
        params=mail.PARAMS,
        check=mail.check,
    ),
}


def check_format(name: object) -> str:
    if not isinstance(name, str) or name not in FORMATS:
        raise InvalidParameter("format", f"{name!r} is not a webhook format; known: {sorted(FORMATS)}")
    return name


def check_target(name: str, url: object, *, allow_private: bool) -> str:
    """The URL of a new subscription of format `name`: of the format's schemes, not private
    (unless allowed), and holding what the format needs (a routing key, recipients)."""
    form = FORMATS[check_format(name)]
    checked = check_url(url, allow_private=allow_private, schemes=form.schemes)
    if form.check is not None:
        form.check(parse_url(checked, form.schemes), own_params(name, checked))
    return checked


def own_params(name: str, url: str) -> Params:
    """The URL's query parameters that are format `name`'s own, by name."""
    wanted = FORMATS[name].params
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    return {key: tuple(values) for key, values in query.items() if key in wanted}


def request_url(name: str, url: str) -> str:
    """The URL a delivery goes to: without the format's own query parameters (the other
    parameters are kept as written)."""
    return _drop_params(url, FORMATS[name].params, replacement=None)


def audited_url(name: str, url: str) -> str:
    """The URL as the audit log records it: the format's credentials replaced by `…`."""
    return _drop_params(url, FORMATS[name].secrets, replacement="…")


def destination(name: str, receiver: str, url: str, external_url: str | None) -> Destination:
    return Destination(receiver, own_params(name, url), external_url)


def render(name: str, event: Event, destination: Destination | None = None) -> tuple[bytes, str]:
    return FORMATS[check_format(name)].render(event, destination or Destination())


def _drop_params(url: str, names: Sequence[str], *, replacement: str | None) -> str:
    parts = urlsplit(url)
    if not names or not parts.query:
        return url
    kept: list[str] = []
    for item in parts.query.split("&"):
        key = unquote_plus(item.split("=", 1)[0])
        if key not in names:
            kept.append(item)
        elif replacement is not None:
            kept.append(f"{item.split('=', 1)[0]}={replacement}")
    return urlunsplit(parts._replace(query="&".join(kept)))


__all__ = [
    "FORMATS",
    "Alert",
    "Destination",
    "Format",
    "Params",
    "alert_of",
    "audited_url",
    "check_format",
    "check_target",
    "destination",
    "own_params",
    "plimsoll_json",
    "render",
    "request_url",
    "rfc3339",
]
