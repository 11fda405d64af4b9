"""`plimsoll alerts list|show|resolve`, `plimsoll silences create|list|expire`, `plimsoll
inhibitions create|list|delete` and `plimsoll incidents list|show|ack|note|resolve` against a live
server: readable tables, the stable `--json` documents, and the exit codes of refusals."""

from __future__ import annotations

from typing import Any

import orjson
from incidents_support import T0, check, drain, model_versions, signal
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import app
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer


def cli(*args: str) -> Any:
    _output.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200", "PLIMSOLL_URL": None})
    assert "Traceback" not in result.output, result.output
    return result


def json_of(*args: str) -> Any:
    result = cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_alerts_silences_and_incidents_from_the_command_line(
    sqlite_platform: Platform, sqlite_live_server: LiveServer
) -> None:
    platform = sqlite_platform
    url = ("--url", sqlite_live_server.url)
    model_versions(platform, 1, owners={"monitoring": "mo"})
    check(platform, [signal("data_drift", True, 0.42, summary="Drift on churn v1")], at=T0)
    check(platform, [signal("no_data", True, 0.0)], at=T0, segment=("region", "eu"))
    drain(platform)

    listed = cli("alerts", "list", *url)
    assert listed.exit_code == 0 and "data_drift" in listed.stdout and "firing" in listed.stdout
    assert "churn v1 (production)" in listed.stdout and "0.42 > 0.2" in listed.stdout
    alerts = json_of("alerts", "list", *url)["alerts"]
    drift = next(a for a in alerts if a["rule"] == "data_drift")
    assert drift["summary"] == "Drift on churn v1" and drift["state"] == "firing"
    shown = cli("alerts", "show", drift["id"], *url)
    assert shown.exit_code == 0 and "fingerprint" in shown.stdout and "pending" in shown.stdout
    assert json_of("alerts", "show", drift["id"], *url)["history"][-1]["state"] == "firing"
    refused = cli("alerts", "resolve", drift["id"], *url)
    assert refused.exit_code == 4 and "monitor's" in refused.output
    assert cli("alerts", "list", "--state", "burning", *url).exit_code == 2
    assert cli("alerts", "show", "0" * 32, *url).exit_code == 3

    made = json_of(
        "silences",
        "create",
        "-m",
        "model=churn",
        "-m",
        "alertname=~data_.*",
        "-c",
        "backfill",
        "--hours",
        "1",
        *url,
    )
    assert [m["op"] for m in made["matchers"]] == ["=", "=~"]
    table = cli("silences", "list", *url)
    assert made["id"] in table.stdout and "active" in table.stdout and 'alertname=~"data_.*"' in table.stdout
    assert json_of("silences", "expire", made["id"], *url)["expired_by"] == "local"
    assert cli("silences", "expire", made["id"], *url).exit_code == 4
    everything = cli("silences", "create", "-m", "model=~.*", "-c", "all", *url)
    assert everything.exit_code == 2 and "would match every alert" in everything.output

    rule = json_of(
        "inhibitions",
        "create",
        "--source",
        "alertname=no_data",
        "--target",
        "severity=warning",
        "--equal",
        "model",
        *url,
    )
    assert [r["id"] for r in json_of("inhibitions", "list", *url)["inhibitions"]] == ["default", rule["id"]]
    assert "mutes" in cli("inhibitions", "list", *url).stdout
    assert json_of("inhibitions", "delete", rule["id"], *url)["id"] == rule["id"]

    (incident,) = json_of("incidents", "list", "--state", "open", *url)["incidents"]
    assert incident["owner"] == "mo" and len(incident["alerts"]) == 2
    assert "unassigned" not in cli("incidents", "list", *url).stdout
    assert json_of("incidents", "ack", incident["id"], "-m", "on it", *url)["state"] == "acknowledged"
    assert cli("incidents", "ack", incident["id"], *url).exit_code == 4
    assert (
        json_of("incidents", "note", incident["id"], "the feed sent nulls", *url)["text"]
        == "the feed sent nulls"
    )
    detail = json_of("incidents", "show", incident["id"], *url)
    assert "note" in [e["kind"] for e in detail["timeline"]["entries"]]
    human = cli("incidents", "show", incident["id"], *url)
    assert human.exit_code == 0 and "timeline" in human.stdout and "the feed sent nulls" in human.stdout
    assert json_of("incidents", "resolve", incident["id"], "-m", "fixed", *url)["resolution"] == "fixed"
    assert cli("incidents", "resolve", incident["id"], *url).exit_code == 4
    assert cli("incidents", "show", "nope", *url).exit_code == 2
    assert json_of("incidents", "list", "--platform", *url) == {"incidents": []}


def test_every_command_is_documented() -> None:
    from pathlib import Path

    from plimsoll.cli import alerts, incidents

    text = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    groups = [
        ("alerts", alerts.app),
        ("silences", alerts.silences_app),
        ("inhibitions", alerts.inhibitions_app),
    ]
    groups += [("incidents", incidents.app)]
    for group, sub in groups:
        for command in sub.registered_commands:
            assert f"plimsoll {group} {command.name}" in text
