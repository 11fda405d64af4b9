"""`client.deployments`, embedded and over HTTP, on SQLite and PostgreSQL: the same records and
the same errors either way; the REST routes with authentication on (viewers read, contributors
change and report traffic); and `plimsoll deploy` / `plimsoll deployments` against a live server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from serving_support import Clock, drain, model_versions, stats
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import app
from plimsoll.client import Client
from plimsoll.core.auth.entities import Role
from plimsoll.core.config import Settings
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import now_ms
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.serving.entities import ROLE_CANARY, ROLE_STABLE, Deployment, HistoryEntry


@pytest.fixture(params=["embedded", "http"])
def both(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[Client, Platform]]:
    """A client (embedded, or over HTTP to a live server) and a platform on the same database."""
    if request.param == "embedded":
        settings = Settings.from_env().with_overrides(
            home=tmp_path / "home", blobs_url=str(tmp_path / "blobs")
        )
        client = Client(database_url, settings=settings)
        assert client.platform is not None
        platform = client.platform
    else:
        platform = request.getfixturevalue("platform")
        client = Client(request.getfixturevalue("live_server").url)
    try:
        yield client, platform
    finally:
        client.close()


def test_the_sdk_deploys_reads_and_rolls_back_either_way(both: tuple[Client, Platform]) -> None:
    client, platform = both
    model_versions(platform, 3)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    made = client.deployments.deploy(
        "churn-prod", model="churn@production", shadow=3, policy={"min_requests": 10}
    )
    assert isinstance(made, Deployment) and (made.stable, made.shadow, made.policy.min_requests) == (1, 3, 10)
    canary = client.deployments.deploy("churn-prod", model="churn@production", canary=2, weight=10)
    assert (canary.canary, canary.canary_weight, canary.state) == (2, 10.0, "canary")
    assert [d.name for d in client.deployments.list()] == ["churn-prod"]
    assert client.deployments.get("churn-prod").revision == 2
    paused = client.deployments.pause("churn-prod", reason="looking")
    assert (paused.state, paused.reason) == ("paused", "looking")
    assert client.deployments.resume("churn-prod").state == "canary"
    back = client.deployments.rollback("churn-prod", reason="p99")
    assert (back.canary, back.state) == (None, "rolled_back")
    lines = client.deployments.history("churn-prod")
    assert isinstance(lines[0], HistoryEntry)
    assert [h.action for h in lines] == ["rolled_back", "resumed", "paused", "canary_started", "created"]
    at = 1_800_000_000_000
    platform.serving.report_traffic("default", "churn-prod", [stats(1, ROLE_STABLE, at, 10, errors=1)], "r1")
    [seen] = client.deployments.traffic("churn-prod", since=at, until=at + 60_000)
    assert (seen.version, seen.role, seen.requests, seen.errors) == (1, ROLE_STABLE, 10, 1)
    with pytest.raises(NotFound, match="deployment 'nope' not found"):
        client.deployments.get("nope")
    with pytest.raises(InvalidParameter, match="weight"):
        client.deployments.deploy("churn-prod", model="churn@production", weight=10)
    with pytest.raises(NotFound, match="99"):
        client.deployments.deploy("churn-prod", model="churn@production", canary=99)
    with pytest.raises(Conflict, match="no canary"):
        client.deployments.pause("churn-prod")


def api(server: LiveServer, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def people(platform: Platform) -> dict[str, str]:
    tokens = {"root": platform.auth.bootstrap_admin("root").secret}
    platform.projects.create("other", actor="root")
    for name, project, role in [
        ("cy", "default", Role.CONTRIBUTOR),
        ("vi", "default", Role.VIEWER),
        ("out", "other", Role.ADMIN),
    ]:
        platform.auth.create_user(name, actor="root")
        platform.auth.grant(project, name, role, actor="root")
        tokens[name] = platform.auth.create_token(name, label="t", actor="root").secret
    return tokens


@pytest.mark.auth_on
def test_the_routes_follow_the_permission_rows(platform: Platform, live_server: LiveServer) -> None:
    tokens = people(platform)
    clock = Clock(platform)
    model_versions(platform, 2)
    platform.model_registry.set_alias("churn", "production", 1, actor="root")
    body = {"model": "churn@production", "policy": {"analysis_window_s": 10, "min_requests": 5}}
    with (
        api(live_server, tokens["vi"]) as vi,
        api(live_server, tokens["cy"]) as cy,
        api(live_server, tokens["out"]) as out,
    ):
        assert vi.put("/deployments/churn-prod", json=body).status_code == 403
        made = cy.put("/deployments/churn-prod", json=body)
        assert made.status_code == 200, made.text
        assert made.json()["stable"] == 1 and made.json()["created_by"] == "cy"
        assert vi.get("/deployments").json()["deployments"][0]["name"] == "churn-prod"
        assert out.get("/deployments").status_code == 403
        routing = vi.get("/deployments/churn-prod/routing").json()
        assert (routing["stable"], routing["canary"], routing["revision"]) == (1, None, 1)
        bad = cy.put("/deployments/churn-prod", json={**body, "canary": 2, "weight": 100})
        assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "weight"
        bad = cy.put("/deployments/churn-prod", json={**body, "policy": {"steps": [20, 10]}})
        assert bad.status_code == 400 and "policy.steps" in bad.text
        assert (
            cy.put("/deployments/churn-prod", json={**body, "model": "fraud@production"}).status_code == 404
        )
        assert vi.get("/deployments/nope").status_code == 404
        platform.model_registry.set_alias("churn", "production", 2, actor="root")
        drain(platform)
        assert vi.get("/deployments/churn-prod/routing").json()["canary"] == 2
        clock.advance(15_000)
        report = {"replica": "r1", "stats": [stats(2, ROLE_CANARY, clock.now - 5_000, 20).to_dict()]}
        assert vi.post("/deployments/churn-prod/traffic", json=report).status_code == 403
        stored = cy.post("/deployments/churn-prod/traffic", json=report)
        assert stored.status_code == 200 and stored.json() == {"stored": 1}
        wrong = cy.post(
            "/deployments/churn-prod/traffic",
            json={**report, "stats": [{**report["stats"][0], "errors": 21}]},
        )
        assert wrong.status_code == 400 and wrong.json()["error"]["details"]["field"] == "stats[0].errors"
        platform.serving.roll_out()
        assert vi.get("/deployments/churn-prod").json()["canary_weight"] == 25.0
        traffic = vi.get("/deployments/churn-prod/traffic", params={"since": clock.now - 60_000}).json()[
            "traffic"
        ]
        assert [(t["version"], t["role"], t["requests"]) for t in traffic] == [(2, "canary", 20)]
        history = vi.get("/deployments/churn-prod/history").json()["history"]
        assert [h["action"] for h in history] == ["step_advanced", "canary_started", "created"]
        assert vi.post("/deployments/churn-prod/pause", json={}).status_code == 403
        assert cy.post("/deployments/churn-prod/pause", json={"reason": "look"}).json()["state"] == "paused"
        assert cy.post("/deployments/churn-prod/resume", json={}).json()["state"] == "canary"
        back = cy.post("/deployments/churn-prod/rollback", json={"reason": "enough"})
        assert back.status_code == 200 and back.json()["state"] == "rolled_back"
        assert cy.post("/deployments/churn-prod/pause", json={}).status_code == 409


def cli(*args: str) -> Any:
    _output.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "PLIMSOLL_URL": None})
    assert "Traceback" not in result.output, result.output
    return result


def json_of(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_deployments_from_the_command_line(sqlite_platform: Platform, sqlite_live_server: LiveServer) -> None:
    platform = sqlite_platform
    url = ("--url", sqlite_live_server.url)
    model_versions(platform, 3)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    shown = cli(
        "deploy",
        "churn-prod",
        "--model",
        "churn@production",
        "--shadow",
        "3",
        "--sticky-key",
        "user_id",
        *url,
    )
    assert shown.exit_code == 0, shown.output
    assert "churn@production in production" in shown.stdout and "user_id" in shown.stdout
    made = json_of(
        "deploy", "churn-prod", "--model", "churn@production", "--canary", "2", "--weight", "10", *url
    )
    assert (made["canary"], made["canary_weight"], made["state"]) == (2, 10.0, "canary")
    listed = cli("deployments", "list", *url)
    assert listed.exit_code == 0 and "churn-prod" in listed.stdout and "2 (10%)" in listed.stdout
    assert json_of("deployments", "list", *url)["deployments"][0]["name"] == "churn-prod"
    assert json_of("deployments", "show", "churn-prod", *url)["stable"] == 1
    assert json_of("deployments", "pause", "churn-prod", "-m", "wait", *url)["state"] == "paused"
    assert json_of("deployments", "resume", "churn-prod", *url)["state"] == "canary"
    rolled = cli("deployments", "rollback", "churn-prod", "--reason", "errors", *url)
    assert rolled.exit_code == 0 and "rolled_back" in rolled.stdout
    lines = json_of("deployments", "history", "churn-prod", *url)["history"]
    assert [h["action"] for h in lines][:2] == ["rolled_back", "resumed"]
    table = cli("deployments", "history", "churn-prod", *url)
    assert table.exit_code == 0 and "canary_started" in table.stdout
    platform.serving.report_traffic(
        "default", "churn-prod", [stats(1, ROLE_STABLE, now_ms() - 60_000, 40, errors=2)], "r1"
    )
    seen = cli("deployments", "traffic", "churn-prod", *url)
    assert seen.exit_code == 0 and "5.00%" in seen.stdout, seen.output
    assert json_of("deployments", "traffic", "churn-prod", *url)["traffic"][0]["requests"] == 40
    assert cli("deployments", "show", "nope", *url).exit_code == 3
    refused = cli("deploy", "churn-prod", "--model", "churn", *url)
    assert refused.exit_code == 2 and "MODEL@ALIAS" in refused.output
    assert cli("deployments", "pause", "churn-prod", *url).exit_code == 4
