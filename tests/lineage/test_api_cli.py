"""Lineage over the real HTTP server: the SDK answers the same embedded and remote, the CLI prints
the API's document with --json, and with auth on a project's viewers read and its contributors
link, nobody else."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import app
from plimsoll.client import Client
from plimsoll.client.transport import LocalTransport
from plimsoll.core.auth.entities import Role
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.ids import short_id
from plimsoll.lineage.entities import Graph
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def build(client: Client, run_id: str) -> None:
    client.lineage.link("dataset:raw@1", "dataset:clean@1", "derived")
    client.lineage.link("dataset:clean@1", f"run:{run_id}", "used", "training")
    client.lineage.link(f"run:{run_id}", "model:churn/1", "produced")


def run_in(platform: Platform, project: str = "default") -> str:
    experiment = platform.tracking.create_experiment("lineage", project=project, actor="root")
    return str(platform.tracking.create_run(experiment.id, actor="root").id)


def embedded(platform: Platform) -> Client:
    client = Client.__new__(Client)  # the platform under test, not a new one from the settings
    client._transport = LocalTransport(platform, actor="tester")
    from plimsoll.client.lineage import Lineage

    client.lineage = Lineage(client._transport)
    return client


def test_the_sdk_answers_alike_embedded_and_over_http(platform: Platform, live_server: LiveServer) -> None:
    run = run_in(platform)
    with Client(live_server.url) as remote:
        build(remote, run)
        local = embedded(platform)
        for walk in ("upstream", "downstream"):
            node = "model:churn/1" if walk == "upstream" else "dataset:raw@1"
            over_http: Graph = getattr(remote.lineage, walk)(node)
            in_process: Graph = getattr(local.lineage, walk)(node)
            assert over_http == in_process
            assert len(over_http.nodes) == 4
        assert remote.lineage.impact("dataset:raw@1") == local.lineage.impact("dataset:raw@1")
        # The short id the UI shows names the run too (resolved through tracking).
        assert remote.lineage.upstream(f"run:{short_id(run)}", depth=1).nodes[0].id == f"run:{run}"
        with pytest.raises(InvalidParameter, match="node: unknown node kind 'table'") as raised:
            remote.lineage.downstream("table:x")
        assert raised.value.field == "node"
        with pytest.raises(NotFound, match="not in the lineage graph"):
            remote.lineage.downstream("dataset:raw@2")


def test_the_http_document_has_the_promised_shape(platform: Platform, live_server: LiveServer) -> None:
    run = run_in(platform)
    api = live_server.url + "/api/v1/lineage"
    created = httpx.post(
        api + "/edges",
        json={"from": "dataset:clean@1", "to": f"run:{run}", "role": "used", "context": "test"},
    )
    assert created.status_code == 201, created.text
    assert created.json() == {
        "from": "dataset:clean@1",
        "to": f"run:{run}",
        "role": "used",
        "context": "test",
    }
    answer = httpx.get(api + "/downstream", params={"node": "dataset:clean@1", "depth": 1}).json()
    assert set(answer) == {"nodes", "edges", "truncated", "total"}
    assert (answer["truncated"], answer["total"]) == (False, 2)
    cut = httpx.get(api + "/downstream", params={"node": "dataset:clean@1", "limit": 1}).json()
    assert (len(cut["nodes"]), cut["edges"], cut["truncated"], cut["total"]) == (1, [], True, 2)
    assert {"id", "kind", "label"} <= set(answer["nodes"][0])
    assert answer["edges"] == [created.json()]
    for params, field in (({"node": "dataset:clean@1", "depth": 101}, "depth"), ({"node": "x"}, "node")):
        refused = httpx.get(api + "/upstream", params=params)
        assert refused.status_code == 400 and refused.json()["error"]["details"]["field"] == field
    document = httpx.get(live_server.url + "/openapi.json").json()
    depth = next(
        p for p in document["paths"]["/api/v1/lineage/upstream"]["get"]["parameters"] if p["name"] == "depth"
    )
    assert (depth["schema"]["minimum"], depth["schema"]["maximum"]) == (1, 100)
    limit = next(
        p for p in document["paths"]["/api/v1/lineage/impact"]["get"]["parameters"] if p["name"] == "limit"
    )
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"], limit["schema"]["default"]) == (
        1,
        100_000,
        10_000,
    )


def cli(*args: str) -> Any:
    _output.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def test_the_cli_prints_trees_tables_and_json(
    platform: Platform, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    run = run_in(platform)
    url = ("--url", live_server.url)
    linked = cli("lineage", "link", "dataset:raw@1", "dataset:clean@1", "--role", "derived", "--json", *url)
    assert linked.exit_code == 0, linked.output
    assert (
        cli("lineage", "link", "dataset:clean@1", f"run:{short_id(run)}", "--role", "used", *url).exit_code
        == 0
    )
    as_json = cli("lineage", "downstream", "dataset:raw@1", "--json", *url)
    assert as_json.exit_code == 0, as_json.output
    document = orjson.loads(as_json.stdout)
    assert document == platform.lineage.downstream("default", "dataset:raw@1").to_dict()
    tree = cli("lineage", "upstream", f"run:{run}", *url)
    assert tree.exit_code == 0 and "dataset:raw@1" in tree.stdout and "(derived)" in tree.stdout
    impact = cli("lineage", "impact", "dataset:raw@1", *url)
    assert impact.exit_code == 0 and f"run:{run}" in impact.stdout
    bad = cli("lineage", "downstream", "dataset:raw", *url)
    assert bad.exit_code == _output.EXIT_USAGE and "node: 'raw' names no version" in bad.stderr
    unknown = cli("lineage", "downstream", "dataset:raw@9", "--project", "default", *url)
    assert unknown.exit_code == _output.EXIT_NOT_FOUND


def test_every_lineage_command_is_documented() -> None:
    from plimsoll.cli import lineage

    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in lineage.app.registered_commands:
        assert f"plimsoll lineage {command.name}" in text


@pytest.mark.auth_on
def test_viewers_read_and_contributors_link(platform: Platform, live_server: LiveServer) -> None:
    auth = platform.auth
    root = auth.bootstrap_admin("root").secret
    platform.projects.create("secret", actor="root")
    for user, role in (("vera", Role.VIEWER), ("carl", Role.CONTRIBUTOR)):
        auth.create_user(user, actor="root")
        auth.grant("default", user, role, actor="root")
    tokens = {user: auth.create_token(user).secret for user in ("vera", "carl")}
    api = live_server.url + "/api/v1/lineage"

    def as_user(token: str | None) -> dict[str, str]:
        return {} if token is None else {"Authorization": f"Bearer {token}"}

    edge = {"from": "dataset:raw@1", "to": "dataset:clean@1", "role": "derived"}
    assert httpx.post(api + "/edges", json=edge).status_code == 401
    assert httpx.post(api + "/edges", json=edge, headers=as_user(tokens["vera"])).status_code == 403
    assert httpx.post(api + "/edges", json=edge, headers=as_user(tokens["carl"])).status_code == 201
    secret_edge = {**edge, "project": "secret"}
    assert httpx.post(api + "/edges", json=secret_edge, headers=as_user(tokens["carl"])).status_code == 403
    assert httpx.post(api + "/edges", json=secret_edge, headers=as_user(root)).status_code == 201
    for token, status in ((None, 401), (tokens["vera"], 200), (tokens["carl"], 200)):
        answer = httpx.get(api + "/downstream", params={"node": "dataset:raw@1"}, headers=as_user(token))
        assert answer.status_code == status, answer.text
    hidden = httpx.get(
        api + "/impact",
        params={"node": "dataset:raw@1", "project": "secret"},
        headers=as_user(tokens["vera"]),
    )
    assert hidden.status_code == 403  # a project the caller names, not a record: refused, not hidden
