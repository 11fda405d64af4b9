"""`plimsoll gates check` as CI runs it (exit 0 when every blocking gate passes, 1 when one fails, 2
for usage errors naming the file's line; a Markdown report and JUnit XML), and `plimsoll models
promote|approve|reject`, `gates policy|waive|decision|verify|promotions` against a live server with
authentication on, each with `--json`."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
from gates_support import APPROVERS, AUTHOR, POLICY, REQUESTER, evidence, guarded, model_versions
from typer.testing import CliRunner

from plimsoll.cli import _output, gates, models
from plimsoll.cli.main import app
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, token: str | None = None) -> Any:
    _output.console.width = 200
    env = {"COLUMNS": "200", "PLIMSOLL_URL": None, "PLIMSOLL_TOKEN": token}
    result = CliRunner().invoke(app, list(args), env=env)
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "policy": tmp_path / "gates.yaml",
        "good": tmp_path / "good.json",
        "bad": tmp_path / "bad.json",
        "typo": tmp_path / "typo.yaml",
    }
    made["policy"].write_text(POLICY)
    made["good"].write_bytes(orjson.dumps(evidence(p95=55)))
    made["bad"].write_bytes(orjson.dumps(evidence(auc=0.61)))
    made["typo"].write_text(POLICY.replace("metric: roc_auc, min", "metric: roc-auc, min"))
    return made


def test_gates_check_exits_by_the_blocking_gates_and_writes_both_reports(
    sqlite_platform: Platform, sqlite_live_server: LiveServer, files: dict[str, Path], tmp_path: Path
) -> None:
    model_versions(sqlite_platform, 2)
    url = ("--url", sqlite_live_server.url)
    report, junit = tmp_path / "report.md", tmp_path / "junit.xml"
    check = ("gates", "check", "--model", "churn", "--version", "1", "--policy", str(files["policy"]))
    passed = cli(
        *check, "--evidence", str(files["good"]), "--markdown", str(report), "--junit", str(junit), *url
    )
    assert passed.exit_code == 0, passed.output
    assert "churn/1 -> production: passed" in passed.stdout and "warning" in passed.stdout
    text = report.read_text()
    assert text.startswith("## Release gates: churn/1 → production: ✅ passed")
    assert "| ✅ | auc | threshold | blocking | roc_auc is 0.9, at least 0.85 |" not in text  # min is 0.8
    assert "| ✅ | auc | threshold | blocking | roc_auc is 0.9, at least 0.8 |" in text
    assert (
        "| ⏭️ | auc-change | change | blocking | no baseline: the alias holds no version to compare with |"
        in text
    )
    assert "| ⚠️ | p95 | latency | warning | single_p99_ms is 55, not at most 40 |" in text
    assert "1 passed, 0 failed, 1 warning, 1 skipped, 0 waived." in text
    suite = ElementTree.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "0", "1")
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["auc-change"].find("skipped") is not None
    assert "WARNING: single_p99_ms is 55" in (cases["p95"].findtext("system-out") or "")

    failed = cli(*check, "--evidence", str(files["bad"]), "--junit", str(junit), "--json", *url)
    assert failed.exit_code == 1, failed.output
    decision = orjson.loads(failed.stdout)
    assert (decision["verdict"], decision["integrity"]) == ("failed", "verified")
    failure = ElementTree.parse(junit).getroot().find("testsuite/testcase[@name='auc']/failure")
    assert failure is not None and failure.get("message") == "roc_auc is 0.61, not at least 0.8"
    assert orjson.loads(failure.text or "{}")["value"] == 0.61

    typo = cli("gates", "check", "--model", "churn", "--policy", str(files["typo"]), *url)
    assert typo.exit_code == _output.EXIT_USAGE
    assert (
        f"{files['typo']}: line 7, column 25: unknown metric 'roc-auc' (did you mean roc_auc" in typo.stderr
    )
    missing = cli("gates", "check", "--model", "churn", "--policy", str(tmp_path / "nope.yaml"), *url)
    assert missing.exit_code == _output.EXIT_USAGE and "cannot read" in missing.stderr
    notjson = cli(*check, "--evidence", str(files["policy"]), *url)
    assert notjson.exit_code == _output.EXIT_USAGE and "is not JSON" in notjson.stderr
    unknown = cli("gates", "check", "--model", "fraud", "--policy", str(files["policy"]), *url)
    assert unknown.exit_code == _output.EXIT_NOT_FOUND

    shown = cli("gates", "decision", decision["id"], "--json", *url)
    assert shown.exit_code == 0 and orjson.loads(shown.stdout)["id"] == decision["id"]
    assert cli("gates", "verify", *url).stdout.startswith("2 decisions of project 'default' verify.")
    with sqlite_platform.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE gate_decisions SET verdict = 'passed' WHERE id = :id"), {"id": decision["id"]}
        )
    tampered = cli("gates", "verify", "--json", *url)
    assert tampered.exit_code == _output.EXIT_VERIFICATION_FAILED
    assert [d["id"] for d in orjson.loads(tampered.stdout)["problems"]] == [decision["id"]]
    assert cli("gates", "decision", decision["id"], *url).exit_code == _output.EXIT_VERIFICATION_FAILED


@pytest.mark.auth_on
def test_promote_approve_and_reject_from_the_shell(
    platform: Platform, live_server: LiveServer, files: dict[str, Path]
) -> None:
    platform.auth.bootstrap_admin("root")
    guarded(platform, versions=3)
    tokens = {
        name: platform.auth.create_token(name, label="cli", actor="root").secret
        for name in (REQUESTER, AUTHOR, *APPROVERS)
    }
    root = platform.auth.create_token("root", label="cli", actor="root").secret
    url = ("--url", live_server.url)
    set_policy = cli(
        "gates", "policy", "set", "churn", "production", str(files["policy"]), "--json", *url, token=root
    )
    assert set_policy.exit_code == 0 and orjson.loads(set_policy.stdout)["alias"] == "production"
    shown = cli("gates", "policy", "show", "churn", "production", *url, token=tokens[REQUESTER])
    assert shown.stdout == POLICY
    refused = cli(
        "gates", "policy", "set", "churn", "production", str(files["policy"]), *url, token=tokens[REQUESTER]
    )
    assert refused.exit_code == _output.EXIT_DENIED

    asked = cli(
        "models",
        "promote",
        "churn",
        "1",
        "--to",
        "production",
        "--evidence",
        str(files["good"]),
        "--no-wait",
        "--json",
        *url,
        token=tokens[REQUESTER],
    )
    assert asked.exit_code == 0, asked.output
    promotion = orjson.loads(asked.stdout)
    assert promotion["status"] == "checking"
    platform.gates.run_gates(promotion["id"])  # the worker's job (this server runs none)
    platform.auth.grant("default", AUTHOR, "approver", actor="root")
    mine = cli("models", "approve", promotion["id"], *url, token=tokens[AUTHOR])
    assert mine.exit_code == _output.EXIT_DENIED and "author" in mine.stderr
    first = cli("models", "approve", promotion["id"], "--comment", "ok", *url, token=tokens[APPROVERS[0]])
    assert first.exit_code == 0 and "awaiting_approval, 1 of 2 approvals" in first.stdout
    done = cli("models", "approve", promotion["id"], "--json", *url, token=tokens[APPROVERS[1]])
    assert done.exit_code == 0 and orjson.loads(done.stdout)["status"] == "promoted"
    history = cli(
        "models", "history", "churn", "--alias", "production", "--json", *url, token=tokens[REQUESTER]
    )
    assert [m["action"] for m in orjson.loads(history.stdout)["moves"]] == ["promote"]

    second = platform.gates.run_gates(
        platform.gates.promote("churn", 2, to="production", evidence=evidence(), actor=REQUESTER).id
    )
    unsaid = cli("models", "reject", second.id, "--comment", "  ", *url, token=tokens[APPROVERS[0]])
    assert unsaid.exit_code == _output.EXIT_USAGE and "comment: is required" in unsaid.stderr
    rejected = cli(
        "models",
        "reject",
        second.id,
        "--comment",
        "wait for the audit",
        "--json",
        *url,
        token=tokens[APPROVERS[0]],
    )
    assert orjson.loads(rejected.stdout)["status"] == "rejected"
    failing = cli(
        "models",
        "promote",
        "churn",
        "3",
        "--to",
        "production",
        "--evidence",
        str(files["bad"]),
        "--no-wait",
        *url,
        token=tokens[REQUESTER],
    )
    assert failing.exit_code == 0
    waived = cli(
        "gates",
        "waive",
        "churn",
        "3",
        "--alias",
        "production",
        "--gate",
        "auc",
        "--reason",
        "known dip",
        "--hours",
        "2",
        "--json",
        *url,
        token=tokens[APPROVERS[1]],
    )
    assert waived.exit_code == 0 and orjson.loads(waived.stdout)["gate"] == "auc"
    listed = cli(
        "gates", "promotions", "churn", "--alias", "production", "--json", *url, token=tokens[REQUESTER]
    )
    assert [p["status"] for p in orjson.loads(listed.stdout)["promotions"]] == [
        "checking",
        "rejected",
        "promoted",
    ]


def test_every_gates_and_promotion_command_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in models.app.registered_commands:
        assert f"plimsoll models {command.name}" in text
    for command in gates.app.registered_commands:
        assert f"plimsoll gates {command.name}" in text
    for command in gates.policy_app.registered_commands:
        assert f"plimsoll gates policy {command.name}" in text
