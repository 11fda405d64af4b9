"""Webhooks over HTTP under /api/v1/webhooks; thin translations to WebhookService calls."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.webhooks.entities import MAX_PATTERNS
from plimsoll.core.webhooks.formats import FORMATS
from plimsoll.core.webhooks.service import MAX_DELIVERIES_PAGE, MAX_WEBHOOK_NAME_LENGTH, WebhookService
from plimsoll.core.webhooks.targets import MAX_URL_LENGTH
from plimsoll.core.wire import EVENT_PATTERNS, Documented, Id, between, name_rules, one_of, vocabulary

router = APIRouter(prefix="/api/v1", tags=["webhooks"])

Actor = Annotated[str, Depends(current_actor)]
Webhooks = Annotated[WebhookService, Depends(service_of("webhooks"))]


class WebhookCreateBody(BaseModel):
    # Any: the service checks each field and names it, as it does for the SDK's embedded mode;
    # the annotations declare what it accepts in the OpenAPI document.
    name: Annotated[Any, Documented(type="string"), name_rules(MAX_WEBHOOK_NAME_LENGTH)]
    url: Annotated[Any, Documented(type="string", format="uri", maxLength=MAX_URL_LENGTH)]
    events: Annotated[
        Any,
        Documented(
            type="array", items=vocabulary(EVENT_PATTERNS).keywords, minItems=1, maxItems=MAX_PATTERNS
        ),
    ]
    format: Annotated[Any, Documented(type="string"), one_of(FORMATS)] = "plimsoll"


@router.post("/webhooks", status_code=201)
def create_webhook(body: WebhookCreateBody, webhooks: Webhooks, actor: Actor) -> Response:
    """The subscription with its `secret`: the only answer that ever holds it. The `url`'s host
    must be public (unless the server allows private networks), and the URL must suit the
    `format`: `http(s)://` for every format but `email`, whose URL is
    `smtp(s)://HOST:PORT?to=ADDRESS&from=ADDRESS`; `pagerduty`'s holds `?routing_key=KEY`
    (docs/webhooks.md, "Formats")."""
    created = webhooks.create(body.name, body.url, body.events, body.format, actor=actor)
    return json_response(created.to_dict(), 201)


@router.get("/webhooks")
def list_webhooks(webhooks: Webhooks) -> Response:
    return json_response({"webhooks": [item.to_dict() for item in webhooks.list()]})


@router.get("/webhooks/{webhook_id}")
def get_webhook(webhook_id: Id, webhooks: Webhooks) -> Response:
    return json_response(webhooks.get(webhook_id).to_dict())


@router.delete("/webhooks/{webhook_id}")
def delete_webhook(webhook_id: Id, webhooks: Webhooks, actor: Actor) -> Response:
    return json_response(webhooks.delete(webhook_id, actor=actor).to_dict())


@router.post("/webhooks/{webhook_id}/test")
def test_webhook(webhook_id: Id, webhooks: Webhooks, actor: Actor) -> Response:
    """Publishes a `webhook.tested` event for this subscription; its delivery follows."""
    return json_response({"webhook_id": webhook_id, "event_id": webhooks.test(webhook_id, actor=actor)})


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: Id, webhooks: Webhooks, limit: Annotated[QueryInt, between(1, MAX_DELIVERIES_PAGE)] = 100
) -> Response:
    deliveries = webhooks.deliveries(webhook_id, limit)
    return json_response({"deliveries": [item.to_dict() for item in deliveries]})
