"""What a caller may not see, the answers do not reveal: a record of a project where the caller
holds no role is answered exactly as a record that does not exist (404, the same message), and
`GET /projects` lists only the projects the caller holds a role in. A caller who may see the
project is still told plainly that their role is too low (403). Auth on, both backends."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from plimsoll.core.auth.entities import Role
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on


class World:
    def __init__(self, platform: Platform, url: str) -> None:
        self.url = url
        auth = platform.auth
        self.root = auth.bootstrap_admin("root").secret
        for project in ("alpha", "secret"):
            platform.projects.create(project, actor="root")
        tracking = platform.tracking
        self.experiment = tracking.create_experiment("hidden", project="secret", actor="root").id
        self.run = tracking.create_run(self.experiment, actor="root").id
        tracking.log_batch(self.run, params={"p": "v"}, actor="root")
        auth.create_user("eve", actor="root")
        auth.grant("alpha", "eve", Role.CONTRIBUTOR, actor="root")
        self.eve = auth.create_token("eve", actor="root").secret
        auth.create_user("vic", actor="root")
        auth.grant("secret", "vic", Role.VIEWER, actor="root")
        self.vic = auth.create_token("vic", actor="root").secret

    def client(self, secret: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)


@pytest.fixture
def world(platform: Platform, live_server: LiveServer) -> World:
    return World(platform, live_server.url)


Request = Callable[[httpx.Client, str], httpx.Response]

# (what, request given a run id or experiment id): every kind of route that names a record.
RUN_REQUESTS: list[tuple[str, Request]] = [
    ("get run", lambda c, r: c.get(f"/api/v1/runs/{r}")),
    ("log to run", lambda c, r: c.post(f"/api/v1/runs/{r}/log", json={"params": {"q": "w"}})),
    ("end run", lambda c, r: c.post(f"/api/v1/runs/{r}/end", json={"status": "FINISHED"})),
    ("delete run", lambda c, r: c.delete(f"/api/v1/runs/{r}")),
    ("metric keys", lambda c, r: c.get(f"/api/v1/runs/{r}/metrics")),
    ("artifact", lambda c, r: c.get(f"/api/v1/runs/{r}/artifacts/a.txt")),
    ("run page", lambda c, r: c.get(f"/runs/{r}")),
    ("compare page", lambda c, r: c.get("/compare", params={"runs": r})),
    (
        "ingest",
        lambda c, r: c.post("/api/v1/runs/ingest", json={"runs": [{"run_id": r, "tags": {"t": "x"}}]}),
    ),
]
EXPERIMENT_REQUESTS: list[tuple[str, Request]] = [
    ("rename", lambda c, e: c.patch(f"/api/v1/experiments/{e}", json={"name": "x"})),
    ("delete", lambda c, e: c.delete(f"/api/v1/experiments/{e}")),
    ("get by ref", lambda c, e: c.get(f"/api/v1/experiments/{e}", params={"project": "alpha"})),
    ("page by ref", lambda c, e: c.get(f"/experiments/{e}", params={"project": "alpha"})),
    ("start a run", lambda c, e: c.post("/api/v1/runs", json={"experiment_id": e})),
    ("search", lambda c, e: c.post("/api/v1/runs/search", json={"experiment_ids": [e]})),
]


def _answer(response: httpx.Response, unknown: str, known: str) -> tuple[int, Any]:
    """Status and error body, the record's id made the same. A page's error is told by its
    message alone: an unknown experiment id reaches the page, which renders its 404 in HTML."""
    if response.headers.get("content-type", "").startswith("application/json"):
        message = response.json().get("error", {}).get("message", response.text)
    else:
        found = re.search(
            r"experiment &#39;[0-9a-f]{32}&#39; not found in project &#39;\w+&#39;", response.text
        )
        message = html.unescape(found.group(0)) if found else response.text
    return response.status_code, str(message).replace(known, unknown)


@pytest.mark.parametrize("what, request_", RUN_REQUESTS, ids=[what for what, _ in RUN_REQUESTS])
def test_another_projects_run_is_answered_as_no_run(world: World, what: str, request_: Request) -> None:
    unknown = new_id()
    with world.client(world.eve) as eve:
        hidden = request_(eve, world.run)
        missing = request_(eve, unknown)
    assert hidden.status_code == 404, f"{what}: {hidden.text[:300]}"
    assert _answer(hidden, unknown, world.run) == _answer(missing, unknown, world.run)


@pytest.mark.parametrize("what, request_", EXPERIMENT_REQUESTS, ids=[what for what, _ in EXPERIMENT_REQUESTS])
def test_another_projects_experiment_is_answered_as_no_experiment(
    world: World, what: str, request_: Request
) -> None:
    unknown = new_id()
    with world.client(world.eve) as eve:
        hidden = request_(eve, world.experiment)
        missing = request_(eve, unknown)
    assert hidden.status_code in {403, 404}, f"{what}: {hidden.text[:300]}"
    assert _answer(hidden, unknown, world.experiment) == _answer(missing, unknown, world.experiment), what


def test_a_viewer_of_the_project_is_told_the_role_is_too_low(world: World) -> None:
    with world.client(world.vic) as vic:
        assert vic.get(f"/api/v1/runs/{world.run}").status_code == 200
        refused = vic.post(f"/api/v1/runs/{world.run}/log", json={"params": {"q": "w"}})
    assert refused.status_code == 403
    assert "needs role contributor in project 'secret' but holds viewer" in refused.json()["error"]["message"]


def test_projects_are_listed_to_those_who_may_see_them(world: World) -> None:
    with world.client(world.eve) as eve:
        assert eve.get("/api/v1/projects").json()["projects"] == ["alpha"]
    with world.client(world.vic) as vic:
        assert vic.get("/api/v1/projects").json()["projects"] == ["secret"]
    with world.client(world.root) as root:
        assert sorted(root.get("/api/v1/projects").json()["projects"]) == ["alpha", "default", "secret"]
