"""The events webhooks publish."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType
from plimsoll.core.webhooks.entities import PARKED_EVENT, TESTED_EVENT


class WebhookTested(BaseModel):
    subscription_id: str


class DeliveryParked(BaseModel):
    subscription_id: str
    subscription: str  # its name
    delivery_id: str
    event_id: int
    event_type: str
    attempts: int
    error: str  # the last attempt's (it names the host, never the URL's path or query)
    parked_at: int  # ms since the epoch


EVENTS = (
    EventType(
        TESTED_EVENT,
        "Someone asked for a test delivery to a webhook subscription; only that subscription gets it.",
        WebhookTested,
    ),
    EventType(
        PARKED_EVENT,
        "A webhook delivery failed for good (its retries ran out, or its target was refused): it is "
        "kept, `failed`, on the subscription's deliveries, until its job is retried. Never sent to "
        "the subscription it is about.",
        DeliveryParked,
    ),
)
