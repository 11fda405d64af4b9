"""Webhook subscriptions and their deliveries: frozen values and the pure rules about them.

A subscription's `events` are patterns: an exact event type (`run.created`), every type of one
noun (`run.*`), or everything (`*`). The signing secret is not a field of `Subscription`: it is
handed out once, at creation, and otherwise read only by the delivery job (see `store.secret_of`).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from plimsoll.core.errors import InvalidParameter

MAX_PATTERNS = 100
# The event type a `test` publishes: it goes to the subscription tested only, whatever its patterns.
TESTED_EVENT = "webhook.tested"
# Published when a delivery fails for good; never sent to the subscription whose delivery it was.
PARKED_EVENT = "webhook.delivery_parked"
# The jobs that deliver: their dead letters are the parked deliveries (published as PARKED_EVENT).
DELIVER_JOB = "webhooks.deliver"


class DeliveryState(StrEnum):
    PENDING = "pending"  # queued, or waiting out a retry backoff
    DELIVERED = "delivered"  # a 2xx answer
    FAILED = "failed"  # every attempt failed, or the target was refused (never retried)


@dataclass(frozen=True)
class Subscription:
    id: str
    name: str
    url: str
    events: tuple[str, ...]
    format: str
    active: bool
    created_at: int
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "events": list(self.events)}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Subscription:
        fields = {name: body[name] for name in cls.__dataclass_fields__}
        return cls(**{**fields, "events": tuple(body["events"])})

    def wants(self, event_type: str, event_created_at: int, payload: dict[str, Any]) -> bool:
        """Whether an event goes to this subscription. A test event goes to the subscription it
        names only; a parked delivery's event to every other subscription; an event older than the subscription never (a consumer that starts late, or
        catches up on a backlog, must not send what happened before anyone subscribed)."""
        if event_type == TESTED_EVENT:
            return payload.get("subscription_id") == self.id
        if event_type == PARKED_EVENT and payload.get("subscription_id") == self.id:
            return False  # a receiver that is down would be told it is down, and park that too
        if event_type == "job.dead_lettered" and payload.get("kind") == DELIVER_JOB:
            return False  # a delivery's dead job: its PARKED_EVENT is the one sent (to the others)
        return self.active and event_created_at >= self.created_at and matches(self.events, event_type)


@dataclass(frozen=True)
class Delivery:
    """One event sent (or to be sent) to one subscription; `job_id` is the background job doing it."""

    id: str
    subscription_id: str
    event_id: int
    event_type: str
    job_id: str
    state: DeliveryState
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: int
    last_attempt_at: int | None
    delivered_at: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "state": self.state.value}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Delivery:
        fields = {name: body[name] for name in cls.__dataclass_fields__}
        return cls(**{**fields, "state": DeliveryState(body["state"])})


@dataclass(frozen=True)
class NewSubscription:
    """What `create` answers: the subscription, and its signing secret (shown this once)."""

    subscription: Subscription
    secret: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.subscription.to_dict(), "secret": self.secret}

    def __repr__(self) -> str:  # a repr ends up in logs: never the secret
        return f"NewSubscription(subscription={self.subscription!r}, secret='whsec_…')"


def matches(patterns: Collection[str], event_type: str) -> bool:
    noun = event_type.split(".", 1)[0]
    return "*" in patterns or event_type in patterns or f"{noun}.*" in patterns


def check_patterns(patterns: Any, known_types: Collection[str]) -> tuple[str, ...]:
    """The patterns, de-duplicated in order; InvalidParameter naming `events` for an unknown type,
    a noun no known type has, or anything else."""
    if isinstance(patterns, str) or not isinstance(patterns, Sequence):
        raise InvalidParameter("events", "must be a list of event types or patterns (`run.*`, `*`)")
    if not patterns:
        raise InvalidParameter("events", "must name at least one event type or pattern (`*`: all)")
    if len(patterns) > MAX_PATTERNS:
        raise InvalidParameter("events", f"has {len(patterns)} items; the limit is {MAX_PATTERNS}")
    nouns = {name.split(".", 1)[0] for name in known_types}
    checked: list[str] = []
    for pattern in patterns:
        if not isinstance(pattern, str):
            raise InvalidParameter("events", f"must hold strings, got {type(pattern).__name__}")
        if pattern.endswith(".*"):
            if pattern[:-2] not in nouns:
                raise InvalidParameter(
                    "events", f"{pattern!r}: no registered event type starts with that noun"
                )
        elif pattern != "*" and pattern not in known_types:
            raise InvalidParameter("events", f"{pattern!r} is not a registered event type")
        if pattern not in checked:
            checked.append(pattern)
    return tuple(checked)
