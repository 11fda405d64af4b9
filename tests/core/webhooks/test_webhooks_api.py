"""The webhooks' JSON API over a real server with auth on, on both backends: what the routes
answer, errors naming their field, and that every route is for site admins only."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plimsoll.core.auth.entities import Role
from plimsoll.core.webhooks.entities import Subscription
from plimsoll.platform import Platform

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


class World:
    def __init__(self, platform: Platform, url: str) -> None:
        self.url = url
        auth = platform.auth
        self.root = auth.bootstrap_admin("root").secret
        auth.create_user("vera", actor="root")
        auth.grant("default", "vera", Role.ADMIN, actor="root")  # admin of a project: still not enough
        self.project_admin = auth.create_token("vera", actor="root").secret

    def client(self, secret: str | None) -> httpx.Client:
        headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
        return httpx.Client(base_url=self.url + "/api/v1", headers=headers, timeout=10)


@pytest.fixture
def world(platform: Platform, live_server: Any) -> World:
    return World(platform, live_server.url)


def _field(answer: httpx.Response, status: int = 400) -> str:
    assert answer.status_code == status, answer.text
    field: str = answer.json()["error"]["details"]["field"]
    return field


def test_create_list_get_test_deliveries_delete(world: World, platform: Platform) -> None:
    body = {"name": "ci", "url": "https://hooks.example.com/in", "events": ["run.*"]}
    with world.client(world.root) as client:
        answer = client.post("/webhooks", json=body)
        assert answer.status_code == 201, answer.text
        created = answer.json()
        assert created["secret"].startswith("whsec_") and created["format"] == "plimsoll"
        subscription = Subscription.from_dict(created)
        assert subscription == platform.webhooks.get(subscription.id)
        assert subscription.created_by == "root" and subscription.events == ("run.*",)
        listed = client.get("/webhooks").json()["webhooks"]
        assert listed == [subscription.to_dict()] and "secret" not in listed[0]
        assert client.get(f"/webhooks/{subscription.id}").json() == subscription.to_dict()
        tested = client.post(f"/webhooks/{subscription.id}/test").json()
        assert tested["webhook_id"] == subscription.id and isinstance(tested["event_id"], int)
        (event,) = [e for e in platform.outbox.follow().events if e.type == "webhook.tested"]
        assert (event.id, event.actor) == (tested["event_id"], "root")
        platform.webhooks.on_event(event)  # what the consumer does (no background runs here)
        (delivery,) = client.get(f"/webhooks/{subscription.id}/deliveries").json()["deliveries"]
        assert delivery == platform.webhooks.deliveries(subscription.id)[0].to_dict()
        assert delivery["state"] == "pending" and delivery["event_type"] == "webhook.tested"
        assert client.delete(f"/webhooks/{subscription.id}").json() == subscription.to_dict()
        assert client.get(f"/webhooks/{subscription.id}").status_code == 404


def test_errors_name_their_field(world: World) -> None:
    with world.client(world.root) as client:
        good = {"name": "ci", "url": "https://hooks.example.com/", "events": ["*"]}
        assert _field(client.post("/webhooks", json={**good, "url": "ftp://x"})) == "url"
        assert _field(client.post("/webhooks", json={**good, "url": "http://127.0.0.1/"})) == "url"
        assert _field(client.post("/webhooks", json={**good, "events": ["no.such_thinged"]})) == "events"
        assert _field(client.post("/webhooks", json={**good, "format": "xml"})) == "format"
        assert _field(client.post("/webhooks", json={**good, "name": "a/b"})) == "name"
        assert client.post("/webhooks", json=good).status_code == 201
        assert client.post("/webhooks", json=good).json()["error"]["code"] == "CONFLICT"
        assert client.get(f"/webhooks/{UNKNOWN_ID}").status_code == 404
        assert _field(client.get("/webhooks/not-an-id")) == "webhook_id"
        assert _field(client.get(f"/webhooks/{UNKNOWN_ID}/deliveries", params={"limit": 0})) == "limit"
        assert client.post(f"/webhooks/{UNKNOWN_ID}/test").status_code == 404


ROUTES = [
    ("POST", "/webhooks"),
    ("GET", "/webhooks"),
    ("GET", f"/webhooks/{UNKNOWN_ID}"),
    ("DELETE", f"/webhooks/{UNKNOWN_ID}"),
    ("POST", f"/webhooks/{UNKNOWN_ID}/test"),
    ("GET", f"/webhooks/{UNKNOWN_ID}/deliveries"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_every_route_is_for_site_admins(world: World, method: str, path: str) -> None:
    body = {"name": "x", "url": "https://hooks.example.com/", "events": ["*"]} if method == "POST" else None
    with world.client(world.project_admin) as client:
        refused = client.request(method, path, json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
    with world.client(None) as client:
        assert client.request(method, path, json=body).status_code == 401
    with world.client(world.root) as client:
        assert client.request(method, path, json=body).status_code in {200, 201, 404}
