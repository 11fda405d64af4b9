"""The events webhooks publish."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType
from plimsoll.core.webhooks.entities import TESTED_EVENT


class WebhookTested(BaseModel):
    subscription_id: str


EVENTS = (
    EventType(
        TESTED_EVENT,
        "Someone asked for a test delivery to a webhook subscription; only that subscription gets it.",
        WebhookTested,
    ),
)
