"""`plimsoll webhooks create|list|test|deliveries|delete` on a real embedded store, and over HTTP
against a real server. No background runs: a test event's delivery is queued by calling the
platform's consumer handler, as the background would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cli_support import cli, ok_json

from plimsoll.cli import _output, webhooks
from plimsoll.platform import Platform

REPO_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
HOOK_URL = "https://hooks.example.com/in"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    return tmp_path / ".plimsoll"


def queue_test_deliveries(platform: Platform) -> None:
    """What the background's consumer does with the test events."""
    for event in platform.outbox.follow().events:
        platform.webhooks.on_event(event)


def test_create_list_test_deliveries_delete(home: Path) -> None:
    created = cli("webhooks", "create", "ci", HOOK_URL, "--event", "run.*", "-e", "experiment.created")
    assert created.exit_code == 0, created.output
    assert "Signing secret: whsec_" in created.stdout and "will not be shown again" in created.stdout
    (subscription,) = ok_json("webhooks", "list")["webhooks"]
    assert subscription["name"] == "ci" and subscription["events"] == ["run.*", "experiment.created"]
    assert "secret" not in subscription and subscription["id"] in created.stdout
    table = cli("webhooks", "list").stdout
    assert subscription["id"] in table and HOOK_URL in table and "run.*, experiment.created" in table
    webhook_id = subscription["id"]
    tested = cli("webhooks", "test", webhook_id)
    assert tested.exit_code == 0 and "Published test event" in tested.stdout
    assert cli("webhooks", "deliveries", webhook_id).stdout.strip() == "No deliveries."
    platform = Platform(home=home).startup()
    try:
        queue_test_deliveries(platform)
    finally:
        platform.close()
    (delivery,) = ok_json("webhooks", "deliveries", webhook_id)["deliveries"]
    assert (delivery["event_type"], delivery["state"], delivery["attempts"]) == (
        "webhook.tested",
        "pending",
        0,
    )
    table = cli("webhooks", "deliveries", webhook_id.upper()).stdout
    assert delivery["id"] in table and "webhook.tested" in table and "pending" in table
    deleted = cli("webhooks", "delete", webhook_id)
    assert deleted.exit_code == 0 and "Deleted webhook ci" in deleted.stdout
    assert cli("webhooks", "list").stdout.strip() == "No webhooks."


def test_create_json_holds_the_secret_once(home: Path) -> None:
    created = ok_json("webhooks", "create", "ci", HOOK_URL, "-e", "*")
    assert created["secret"].startswith("whsec_") and created["events"] == ["*"]
    assert created["secret"] not in cli("webhooks", "list", "--json").stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("create", "x", "ftp://example.com/", "-e", "*"), _output.EXIT_USAGE, "url: must use http or https"),
        (
            ("create", "x", "http://localhost/", "-e", "*"),
            _output.EXIT_USAGE,
            "PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE",
        ),
        (("create", "x", HOOK_URL, "-e", "run.exploded"), _output.EXIT_USAGE, "events:"),
        (("create", "x", HOOK_URL, "-e", "*", "--format", "xml"), _output.EXIT_USAGE, "format:"),
        (("test", UNKNOWN_ID), _output.EXIT_NOT_FOUND, "not found"),
        (("deliveries", "nope"), _output.EXIT_USAGE, "webhook_id"),
        (("deliveries", UNKNOWN_ID, "-n", "0"), _output.EXIT_USAGE, "limit"),
        (("delete", UNKNOWN_ID), _output.EXIT_NOT_FOUND, "not found"),
    ],
)
def test_errors_are_exit_codes(home: Path, args: tuple[str, ...], code: int, message: str) -> None:
    result = cli("webhooks", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr


def test_a_name_in_use_is_a_conflict(home: Path) -> None:
    assert cli("webhooks", "create", "ci", HOOK_URL, "-e", "*").exit_code == 0
    assert cli("webhooks", "create", "ci", HOOK_URL, "-e", "*").exit_code == _output.EXIT_CONFLICT


def test_every_webhooks_command_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in webhooks.app.registered_commands:
        assert f"plimsoll webhooks {command.name}" in text


def test_the_same_commands_over_http(live_server: Any, platform: Platform, home: Path) -> None:
    url = ("--url", live_server.url)
    created = ok_json("webhooks", "create", "ci", HOOK_URL, "-e", "run.ended", *url)
    assert platform.webhooks.get(created["id"]).name == "ci"
    assert [w["id"] for w in ok_json("webhooks", "list", *url)["webhooks"]] == [created["id"]]
    event_id = ok_json("webhooks", "test", created["id"], *url)["event_id"]
    queue_test_deliveries(platform)
    (delivery,) = ok_json("webhooks", "deliveries", created["id"], *url)["deliveries"]
    assert delivery["event_id"] == event_id
    assert ok_json("webhooks", "delete", created["id"], *url)["id"] == created["id"]
    refused = cli("webhooks", "create", "bad", "http://10.0.0.1/", "-e", "*", *url)
    assert refused.exit_code == _output.EXIT_USAGE and "url:" in refused.stderr
    assert not home.exists()  # --url won: nothing was written to the embedded store
