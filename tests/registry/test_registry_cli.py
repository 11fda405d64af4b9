"""`plimsoll models` against a live server: register, alias, history at a time (the issue's
`--alias production --at ... --json` answers with the version held then), rollback, and errors
as exit codes naming what was wrong."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import app
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> Any:
    _output.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def trained(platform: Platform, weights: bytes) -> str:
    experiment = platform.tracking.get_or_create_experiment("churn", actor="ada")
    run = platform.tracking.create_run(experiment.id, actor="ada")
    platform.tracking.log_artifact(run.id, "model/weights.bin", weights, actor="ada")
    return run.id


def test_register_alias_history_and_rollback(
    platform: Platform, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url = ("--url", live_server.url)
    for weights in (b"one", b"two"):
        made = cli("models", "register", "churn", "--run", trained(platform, weights), "--json", *url)
        assert made.exit_code == 0, made.output
    assert orjson.loads(made.stdout)["ref"] == "churn/2"

    first = cli("models", "alias", "churn", "production", "1", "--reason", "first release", "--json", *url)
    assert first.exit_code == 0, first.output
    moved_at = orjson.loads(first.stdout)["at"]
    assert cli("models", "alias", "churn", "production", "2", "--reason", "retrained", *url).exit_code == 0

    then = datetime.fromtimestamp(moved_at / 1000, tz=UTC).isoformat().replace("+00:00", "Z")
    held = cli("models", "history", "churn", "--alias", "production", "--at", then, "--json", *url)
    assert held.exit_code == 0, held.output
    assert orjson.loads(held.stdout)["version"] == 1
    table = cli("models", "history", "churn", "--alias", "production", *url)
    assert "churn@production holds churn/2" in table.stdout and "retrained" in table.stdout

    back = cli("models", "rollback", "churn", "production", "--reason", "regression", *url)
    assert back.exit_code == 0 and "churn@production -> 1 (was 2)" in back.stdout
    shown = cli("models", "show", "churn", *url)
    assert shown.exit_code == 0 and "production" in shown.stdout
    listed = cli("models", "list", "--json", *url)
    assert [m["name"] for m in orjson.loads(listed.stdout)["models"]] == ["churn"]


def test_errors_are_exit_codes_that_name_the_problem(
    platform: Platform, live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url = ("--url", live_server.url)
    missing = cli("models", "show", "nope/1", *url)
    assert missing.exit_code == _output.EXIT_NOT_FOUND and "model 'nope' not found" in missing.stderr
    naive = cli("models", "history", "nope", "--alias", "production", "--at", "2026-12-01T10:00:00", *url)
    assert naive.exit_code == _output.EXIT_USAGE and "has no time zone" in naive.stderr
    bad = cli("models", "alias", "churn", "Prod", "1", *url)
    assert bad.exit_code == _output.EXIT_USAGE and "lowercase word" in bad.stderr


def test_every_models_command_is_documented() -> None:
    from plimsoll.cli import models

    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in models.app.registered_commands:
        assert f"plimsoll models {command.name}" in text
