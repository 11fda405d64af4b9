"""The bodies a webhook can carry, by format name: `render(format, event) -> (body, content type)`.

A format is a function of the event alone, so a new kind of receiver (Alertmanager v4, PagerDuty
Events v2, Slack, email) is one more entry in `FORMATS`, delivered, signed and retried by the same
path as the rest.
"""

from __future__ import annotations

from collections.abc import Callable

import orjson

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import Event

Formatter = Callable[[Event], tuple[bytes, str]]


def plimsoll_json(event: Event) -> tuple[bytes, str]:
    """The event as the events API shows it (`Event.to_dict()`)."""
    return orjson.dumps(event.to_dict()), "application/json"


FORMATS: dict[str, Formatter] = {"plimsoll": plimsoll_json}


def check_format(name: object) -> str:
    if not isinstance(name, str) or name not in FORMATS:
        raise InvalidParameter("format", f"{name!r} is not a webhook format; known: {sorted(FORMATS)}")
    return name


def render(name: str, event: Event) -> tuple[bytes, str]:
    return FORMATS[check_format(name)](event)
