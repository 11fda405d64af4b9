"""Events as users see them: what tracking publishes (in the transaction of its change), the
follow API over HTTP with its permission check, the SDK in both modes, and `plimsoll events`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from plimsoll.cli.main import app
from plimsoll.client import Client
from plimsoll.core.errors import Conflict
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

ME = "alice"


def _types(platform: Platform, project: str = "default") -> list[str]:
    return [event.type for event in platform.outbox.follow(project=project, limit=1000).events]


def test_tracking_publishes_its_changes_in_order(platform: Platform) -> None:
    tracking = platform.tracking
    experiment = tracking.create_experiment("churn", actor=ME)
    run = tracking.create_run(experiment.id, name="r1", actor=ME)
    tracking.end_run(run.id, "FAILED", actor=ME)
    tracking.delete_run(run.id, actor=ME)
    tracking.rename_experiment(experiment.id, "churn-2", actor=ME)
    page = platform.outbox.follow(project="default")
    assert [e.type for e in page.events] == [
        "experiment.created",
        "run.created",
        "run.ended",
        "run.deleted",
        "experiment.renamed",
    ]
    ended = page.events[2]
    assert ended.aggregate == f"run:{run.id}" and ended.actor == ME and ended.project == "default"
    assert ended.payload["status"] == "FAILED" and ended.payload["run_id"] == run.id
    assert page.events[4].payload["name"] == "churn-2"


def test_a_change_that_fails_publishes_nothing(platform: Platform) -> None:
    platform.tracking.create_experiment("churn", actor=ME)
    before = _types(platform)
    with pytest.raises(Conflict):
        platform.tracking.create_experiment("churn", actor=ME)
    assert _types(platform) == before


def test_events_are_followed_per_project_with_their_permission(tmp_path: Path) -> None:
    platform = Platform(home=tmp_path / ".plimsoll", auth=True).startup()
    server = LiveServer(platform)
    try:
        auth = platform.auth
        root = auth.bootstrap_admin("root").secret
        auth.create_user("vera", actor="root")
        vera = auth.create_token("vera").secret
        auth.grant("default", "vera", "viewer", actor="root")
        platform.projects.create("secret", actor="root")
        platform.tracking.create_experiment("mine", actor="root")
        platform.tracking.create_experiment("theirs", project="secret", actor="root")
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {vera}"}) as client:
            mine = client.get("/api/v1/events").json()
            created = [e["payload"]["name"] for e in mine["events"] if e["type"] == "experiment.created"]
            assert created == ["mine"]
            # The project's own role changes are its events too (viewers may list its roles).
            assert [e["type"] for e in mine["events"] if e["type"].startswith("role.")] == ["role.granted"]
            assert client.get("/api/v1/events", params={"project": "secret"}).status_code == 403
            again = client.get("/api/v1/events", params={"after": mine["next_page_token"]}).json()
            assert again["events"] == []
            assert "run.ended" in {t["name"] for t in client.get("/api/v1/events/types").json()["types"]}
        assert httpx.get(f"{server.url}/api/v1/events").status_code == 401
        with Client(server.url, token=root) as sdk:
            page = sdk.events(project="secret", types=["experiment.created"])
            assert [e.payload["name"] for e in page.events] == ["theirs"]
    finally:
        server.stop()
        platform.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    yield tmp_path / ".plimsoll"


def test_plimsoll_events_tail_and_types(home: Path) -> None:
    with Client() as client:
        with client.start_run("churn", capture=False) as run:
            run.log_metric("m", 1.0)
        embedded = client.events(types="run.ended")
    assert [e.payload["run_id"] for e in embedded.events] == [run.id]
    result = CliRunner().invoke(app, ["events", "tail", "--json"])
    assert result.exit_code == 0, result.output
    lines = [orjson.loads(line) for line in result.output.splitlines()]
    assert [line["type"] for line in lines] == ["experiment.created", "run.created", "run.ended"]
    result = CliRunner().invoke(app, ["events", "tail", "--type", "run.ended"])
    assert result.exit_code == 0 and "run.ended" in result.output and "run.created" not in result.output
    types = CliRunner().invoke(app, ["events", "types", "--json"])
    assert "pipeline_run.started" in {t["name"] for t in orjson.loads(types.output)["types"]}
