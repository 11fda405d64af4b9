"""The tracking CLI (`plimsoll experiments|runs ...`, `plimsoll demo`) on a real embedded store, and
once over HTTP against a real server."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cli_support import cli, ok_json

from plimsoll.cli import _output
from plimsoll.client import Client
from plimsoll.core.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    PayloadTooLarge,
    PlimsollError,
    Unavailable,
)
from plimsoll.core.ids import short_id

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_KEYS = {"id", "name", "experiment", "experiment_id", "project", "status", "start_time", "end_time"}
RUN_KEYS |= {"duration_ms", "parent_run_id", "user", "lifecycle_stage", "params", "metrics", "tags"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty embedded store in tmp_path, chosen the way users choose it: PLIMSOLL_HOME."""
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    return tmp_path / ".plimsoll"


def seed(client: Client) -> dict[str, str]:
    """Two runs in `churn` (one with a NaN loss and an artifact) and one in `other`."""
    with client.start_run(
        "churn", name="baseline", params={"lr": 0.1, "depth": 3}, tags={"team": "vision"}, capture=False
    ) as baseline:
        baseline.log_metric("acc", 0.8, step=0)
        baseline.log_metric("acc", 0.9, step=1)
        baseline.log_metric("loss", math.nan)
        baseline.log_dict({"matrix": [[1, 0], [0, 1]]}, "cm.json")
    with client.start_run(
        "churn", name="tuned", params={"lr": 0.01, "depth": 3}, tags={"team": "vision"}, capture=False
    ) as tuned:
        tuned.log_metrics({"acc": 0.95, "loss": 0.2})
    with client.start_run("other", name="elsewhere", params={"lr": 1}, capture=False) as elsewhere:
        elsewhere.log_metric("acc", 0.5)
    return {"baseline": baseline.id, "tuned": tuned.id, "elsewhere": elsewhere.id}


@pytest.fixture
def runs(home: Path) -> Iterator[dict[str, str]]:
    with Client() as client:
        ids = seed(client)
    yield ids


# -- experiments ---------------------------------------------------------------------------------


def test_experiments_list_table_and_json(runs: dict[str, str]) -> None:
    result = cli("experiments", "list")
    assert result.exit_code == 0, result.output
    assert "churn" in result.stdout and "other" in result.stdout

    document = ok_json("experiments", "list")
    assert sorted(e["name"] for e in document["experiments"]) == ["churn", "other"]
    first = document["experiments"][0]
    assert set(first) >= {"id", "name", "project", "description", "lifecycle_stage", "created_at", "tags"}
    assert first["project"] == "default"


def test_experiments_create_then_conflict(home: Path) -> None:
    created = ok_json("experiments", "create", "fraud", "--description", "card fraud")
    assert created["name"] == "fraud" and created["description"] == "card fraud"
    again = cli("experiments", "create", "fraud")
    assert again.exit_code == _output.EXIT_CONFLICT
    assert "already exists" in again.stderr
    bad_view = cli("experiments", "list", "--view", "archived")
    assert bad_view.exit_code == _output.EXIT_USAGE
    assert "view" in bad_view.stderr


# -- runs list -----------------------------------------------------------------------------------


def test_runs_list_json_schema_and_values(runs: dict[str, str]) -> None:
    document = ok_json("runs", "list", "--experiment", "churn")
    assert set(document) == {"runs"}
    by_name = {run["name"]: run for run in document["runs"]}
    assert set(by_name) == {"baseline", "tuned"}
    for run in document["runs"]:
        assert set(run) >= RUN_KEYS
    baseline = by_name["baseline"]
    assert baseline["id"] == runs["baseline"]
    assert baseline["experiment"] == "churn"
    assert baseline["status"] == "FINISHED"
    assert baseline["params"] == {"lr": "0.1", "depth": "3"}
    assert baseline["metrics"] == {"acc": 0.9, "loss": "NaN"}  # latest value; NaN as a string
    assert baseline["tags"] == {"team": "vision"}
    assert baseline["duration_ms"] == baseline["end_time"] - baseline["start_time"]
    # Newest first by default.
    assert [run["name"] for run in document["runs"]] == ["tuned", "baseline"]


def test_runs_list_filter_order_and_project_scope(runs: dict[str, str]) -> None:
    found = ok_json("runs", "list", "--filter", "metrics.acc > 0.92")
    assert [run["id"] for run in found["runs"]] == [runs["tuned"]]

    everything = ok_json("runs", "list", "--order-by", "metrics.acc DESC")
    assert [run["name"] for run in everything["runs"]] == ["tuned", "baseline", "elsewhere"]

    two = ok_json("runs", "list", "-e", "churn", "-e", "other", "--filter", "params.lr >= 0.1")
    assert sorted(run["name"] for run in two["runs"]) == ["baseline", "elsewhere"]

    newest = ok_json("runs", "list", "--max-results", "1")["runs"]
    assert [run["name"] for run in newest] == ["elsewhere"]
    assert ok_json("runs", "list", "--project", "default", "-f", "name = 'nope'") == {"runs": []}


def test_runs_list_table(runs: dict[str, str]) -> None:
    result = cli("runs", "list", "-e", "churn")
    assert result.exit_code == 0, result.output
    for name in ("baseline", "tuned"):
        assert name in result.stdout
        assert short_id(runs[name]) in result.stdout
    assert "FINISHED" in result.stdout
    # The keys that vary (lr) and the metrics are columns; the table says how to see the rest.
    header = next(line for line in result.stdout.splitlines() if "status" in line)
    assert "lr" in header and "acc" in header and "loss" in header


def test_runs_list_picks_columns_by_the_shared_rule(runs: dict[str, str]) -> None:
    """`depth` is 3 in both churn runs: said once under the table, not a column, unless sorted on."""
    result = cli("runs", "list", "-e", "churn")
    header = next(line for line in result.stdout.splitlines() if "status" in line)
    assert "lr" in header and "depth" not in header
    assert "all 2 runs: depth = 3" in result.stdout
    sorted_on = cli("runs", "list", "-e", "churn", "-o", "params.depth")
    header = next(line for line in sorted_on.stdout.splitlines() if "status" in line)
    assert "depth" in header
    assert "depth = 3" not in sorted_on.stdout


def test_a_bad_filter_is_a_usage_error_with_the_parser_message(runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--filter", "tags.team = 5")
    assert result.exit_code == _output.EXIT_USAGE
    assert result.stdout == ""
    assert "filter: tags compare text: at position 13" in result.stderr
    assert result.stderr.startswith("Error: ")


def test_an_unknown_experiment_is_not_found(runs: dict[str, str]) -> None:
    result = cli("runs", "list", "--experiment", "nope")
    assert result.exit_code == _output.EXIT_NOT_FOUND
    assert "experiment 'nope' not found" in result.stderr


# -- runs show / compare -------------------------------------------------------------------------


def test_runs_show_json_by_full_and_short_id(runs: dict[str, str]) -> None:
    by_id = ok_json("runs", "show", runs["baseline"])
    assert set(by_id) >= RUN_KEYS | {"artifacts"}
    assert by_id["name"] == "baseline"
    assert by_id["metrics"]["loss"] == "NaN"
    assert [a["path"] for a in by_id["artifacts"]] == ["cm.json"]
    assert set(by_id["artifacts"][0]) == {"path", "size", "digest", "created_at"}
    assert ok_json("runs", "show", short_id(runs["baseline"])) == by_id


def test_runs_show_table(runs: dict[str, str]) -> None:
    result = cli("runs", "show", runs["baseline"])
    assert result.exit_code == 0, result.output
    for text in ("baseline", runs["baseline"], "churn", "Params", "Metrics (latest)", "Tags", "cm.json"):
        assert text in result.stdout
    assert re.search(r"acc\s*│\s*0\.9\b", result.stdout)


@pytest.mark.parametrize(
    ("ref", "code", "message"),
    [
        ("0" * 32, _output.EXIT_NOT_FOUND, "not found"),
        ("abcdef12", _output.EXIT_NOT_FOUND, "no run id ends with 'abcdef12'"),
        ("not-an-id!", _output.EXIT_USAGE, "is not a run id"),
    ],
)
def test_an_unknown_run_exits_non_zero(runs: dict[str, str], ref: str, code: int, message: str) -> None:
    result = cli("runs", "show", ref)
    assert result.exit_code == code
    assert message in result.stderr
    assert result.stdout == ""


def test_runs_compare(runs: dict[str, str]) -> None:
    result = cli("runs", "compare", runs["baseline"], short_id(runs["tuned"]))
    assert result.exit_code == 0, result.output
    assert "baseline" in result.stdout and "tuned" in result.stdout
    assert "1 params and 2 metrics differ" in result.stdout
    only = cli("runs", "compare", runs["baseline"], runs["tuned"], "--only-diff")
    depth_rows = [line for line in only.stdout.splitlines() if line.startswith("│ depth")]
    assert depth_rows == []

    document = ok_json("runs", "compare", runs["baseline"], runs["tuned"])
    assert [run["name"] for run in document["runs"]] == ["baseline", "tuned"]
    assert document["params"] == {"depth": ["3", "3"], "lr": ["0.1", "0.01"]}
    assert document["metrics"] == {"acc": [0.9, 0.95], "loss": ["NaN", 0.2]}
    assert document["differences"] == {"params": ["lr"], "metrics": ["acc", "loss"]}

    alone = cli("runs", "compare", runs["baseline"])
    assert alone.exit_code == _output.EXIT_USAGE
    assert "at least 2 runs" in alone.stderr


# -- exit codes and docs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (InvalidParameter("f", "bad"), 2),
        (PayloadTooLarge("f", "big"), 2),
        (NotFound("x"), 3),
        (Conflict("x"), 4),
        (Unavailable("x"), 7),
        (PlimsollError("x"), 1),
    ],
)
def test_exit_codes_are_stable(error: PlimsollError, code: int) -> None:
    assert _output.exit_code(error) == code


def test_every_tracking_command_is_documented() -> None:
    from plimsoll.cli import experiments, runs, users

    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    groups = [("experiments", experiments.app), ("runs", runs.app), ("users", users.users_app)]
    groups += [("tokens", users.tokens_app), ("roles", users.roles_app)]
    for group, sub in groups:
        for command in sub.registered_commands:
            assert f"plimsoll {group} {command.name}" in text
    assert "plimsoll demo" in text
    assert "plimsoll sync" in text
    for code in range(8):
        assert f"| {code} |" in text


# -- over HTTP -----------------------------------------------------------------------------------


def test_the_same_commands_over_http(live_server: Any, home: Path) -> None:
    with Client(live_server.url) as client:
        ids = seed(client)
    url = ("--url", live_server.url)
    listed = ok_json("runs", "list", "-e", "churn", "-f", "params.lr < 0.05", *url)
    assert [run["id"] for run in listed["runs"]] == [ids["tuned"]]
    assert listed["runs"][0]["metrics"] == {"acc": 0.95, "loss": 0.2}
    shown = ok_json("runs", "show", short_id(ids["baseline"]), *url)
    assert shown["metrics"]["loss"] == "NaN"
    assert [a["path"] for a in shown["artifacts"]] == ["cm.json"]
    experiments = ok_json("experiments", "list", *url)["experiments"]
    assert sorted(e["name"] for e in experiments) == ["churn", "other"]
    bad = cli("runs", "list", "-f", "metrics.acc >", *url)
    assert bad.exit_code == _output.EXIT_USAGE
    assert "filter: unexpected end of filter" in bad.stderr
    # Nothing was written to the embedded store: --url won.
    assert not home.exists()


# -- demo ----------------------------------------------------------------------------------------


def test_demo_trains_logs_and_releases_the_best(home: Path) -> None:
    from plimsoll.demo import GRID
    from plimsoll.release_demo import ALIAS, MODEL, REVIEWER
    from plimsoll.rollout_demo import DEPLOYMENT, SLIM, SLIM_RUN

    result = cli("demo", "--experiment", "demo-test")
    assert result.exit_code == 0, result.output
    assert "best roc_auc first" in result.stdout
    assert "/experiments/" in result.stdout

    with Client() as client:
        searched = client.search_runs("demo-test", order_by=["metrics.roc_auc DESC"])
        slim_run = next(run for run in searched if run.name == SLIM_RUN)  # the serving's worse version
        found = [run for run in searched if run.name != SLIM_RUN]
        assert len(found) == len(GRID) >= 6
        assert {run.name for run in found} == {setting.name for setting in GRID}
        for run in found:
            assert run.status == "FINISHED"
            assert {"accuracy", "f1", "roc_auc", "log_loss", "val_loss", "train_accuracy"} <= set(run.metrics)
            assert 0.85 < run.metrics["accuracy"] <= 1.0 and 0.9 < run.metrics["roc_auc"] <= 1.0
            assert run.params["dataset"] == "sklearn.datasets.load_breast_cancer"
            assert run.tags["demo"] == "true"
            history = client.get_metric_history(run.id, "val_loss")
            assert len(history.steps) >= 10
            assert history.steps == sorted(history.steps)
            paths = {artifact.path for artifact in client.list_artifacts(run.id)}
            assert {"confusion_matrix.json", "model_card.md"} <= paths
            assert not any(path.endswith((".pkl", ".pickle", ".joblib")) for path in paths)
            assert "model/manifest.json" in paths  # log_model: skops, never a pickle
        boosted = next(run for run in found if run.name.startswith("gb-"))
        assert len(client.get_metric_history(boosted.id, "train_loss").steps) == 100
        # The split it trained and validated on is data, and every run names it as its inputs.
        train, validation = (
            client.datasets.get("breast-cancer-train"),
            client.datasets.get("breast-cancer-validation"),
        )
        test = client.datasets.get("breast-cancer-test")
        assert (train.rows, validation.rows, test.rows) == (341, 114, 114) and train.schema is not None
        assert train.validation == validation.validation == "passed"  # checked against the demo's schema
        assert [c.name for c in train.schema][-1] == "diagnosis"
        readers = client.lineage.downstream("dataset:breast-cancer-train@1", depth=1).edges
        assert sorted(e.target for e in readers) == sorted(f"run:{run.id}" for run in [*found, slim_run])
        assert {e.context for e in readers} == {"training"}
        assert {
            e.context for e in client.lineage.downstream("dataset:breast-cancer-validation@1", depth=1).edges
        } == {"validation"}
        matrix_file = client.download_artifact(found[0].id, "confusion_matrix.json", home / "cm.json")
        matrix = orjson.loads(matrix_file.read_bytes())["matrix"]
        assert sum(map(sum, matrix)) == int(found[0].params["n_val"])

        # The release: the best run's model holds production, evaluated on the test set, gated,
        # approved by a second person; the alias's history says so.
        production = client.registry.get(f"{MODEL}@{ALIAS}")
        assert (production.version, production.run_id) == (1, found[0].id)
        (evaluation,) = [e for e in client.evaluations.list(model=MODEL) if e.model == f"{MODEL}/1"]
        assert (evaluation.model, evaluation.dataset, evaluation.rows) == (f"{MODEL}/1", test.ref, 114)
        assert set(evaluation.slices["tumour_size"]) == {"small", "large"}
        assert evaluation.latency is not None and evaluation.cost is not None
        promotion, slim_promotion = sorted(
            client.gates.promotions(MODEL, alias=ALIAS), key=lambda p: p.version
        )
        assert promotion.status == "promoted" and [a.approver for a in promotion.approvals] == [REVIEWER]
        assert promotion.requested_by != REVIEWER
        decision = client.gates.decision(promotion.decision or "")
        assert decision.verdict == "passed" and decision.integrity == "verified"
        assert decision.evidence["source"] == evaluation.node
        assert {r.gate: r.status for r in decision.results}["no-auc-regression"] == "skipped"
        move = client.registry.history(MODEL, ALIAS).moves[-1]
        assert (move.action, move.version) == ("promote", 1)

        # Production: 28 days of traffic, a new imaging device from day 14; the monitor finds the
        # drift from that day on (ranked by effect: the readings the device changed) and the drop
        # in accuracy once the diagnoses come back.
        from plimsoll.operate_demo import DAYS, DRIFT, DRIFT_FROM_DAY, MONITOR, OWNERS

        assert next(m for m in client.registry.list() if m.name == MODEL).owners == OWNERS
        windows = client.monitors.windows(MONITOR)
        assert len(windows) == DAYS and all(w.version == 1 for w in windows)
        drifted = [w.drift.get("detected") for w in windows]
        assert not any(drifted[:DRIFT_FROM_DAY]) and all(drifted[DRIFT_FROM_DAY:])
        assert all(set(w.drift["ranked"][:2]) <= set(DRIFT) for w in windows[DRIFT_FROM_DAY:])
        firing = {s["rule"] for s in windows[-2].breaking if s["consecutive"] >= s["for_windows"]}
        assert {"data_drift", "performance_drop"} <= firing
        assert windows[-1].values["labels.coverage"] == 0  # the last day's diagnoses are not back yet
        # The signals became alerts, and the firing ones an incident for the incident-response owner.
        firing_alerts = {a.rule for a in client.alerts.list(model=MODEL, state="firing")}
        assert {"data_drift", "performance_drop"} <= firing_alerts
        (incident,) = client.incidents.list(model=MODEL, state="unresolved")
        assert incident.owner == OWNERS["incident_response"] and incident.severity == "critical"
        assert {"data_drift", "performance_drop"} <= {a.rule for a in incident.alerts}

        # Serving: the promoted model deployed and served by a real replica; version 2 (5 of the
        # 30 measurements, worse on purpose) passed the gates on the old device's test set, went
        # out as a canary and was rolled back by the rollout's analysis, alias and all, under its
        # promotion's decision.
        deployment = client.deployments.get(DEPLOYMENT)
        assert (deployment.ref, deployment.stable, deployment.canary) == (f"{MODEL}@{ALIAS}", 1, None)
        assert deployment.state == "rolled_back"
        assert slim_promotion.version == 2 and slim_promotion.status == "promoted"
        assert client.registry.get(f"{MODEL}/2").run_id == slim_run.id
        assert slim_run.params["features"] == ", ".join(SLIM)
        back, started, created = client.deployments.history(DEPLOYMENT)
        assert (created.action, started.action, started.after["canary"]) == ("created", "canary_started", 2)
        assert (back.action, back.actor, back.decision) == (
            "rolled_back",
            "system:serving",
            slim_promotion.decision,
        )
        assert started.decision == slim_promotion.decision
        assert back.analysis is not None and back.analysis["verdict"] == "fail"
        failed = {c["name"] for c in back.analysis["checks"] if c["status"] == "failed"}
        assert "quality" in failed
        moves = client.registry.history(MODEL, ALIAS).moves
        assert [(m.action, m.version, m.actor) for m in moves[:2]] == [
            ("rollback", 1, "system:serving"),
            ("promote", 2, REVIEWER),
        ]
        assert client.registry.get(f"{MODEL}@{ALIAS}").version == 1
        traffic = {(t.version, t.role): t.requests for t in client.deployments.traffic(DEPLOYMENT)}
        assert traffic[(1, "stable")] > 0 and traffic[(2, "canary")] > 0
        logged = {
            role: client.monitoring.read(
                "predictions", model=MODEL, deployment=DEPLOYMENT, role=role
            ).num_rows
            for role in ("stable", "canary")
        }
        assert (
            logged["stable"] >= 5 * traffic[(1, "stable")] and logged["canary"] == 5 * traffic[(2, "canary")]
        )
    shown = " ".join(result.stdout.split())
    assert f"plimsoll monitors show {MONITOR}" in shown and f"plimsoll incidents show {incident.id}" in shown
    # The table lists the runs best first: the first row is the best roc_auc.
    rows = [line for line in result.stdout.splitlines() if re.match(r"│\s+1\s+│", line)]
    assert rows and found[0].name in rows[0]
    assert f"{MODEL}@{ALIAS} now holds version 1 (approved by {REVIEWER})" in result.stdout
    assert "Rolled back automatically by system:serving" in shown
    assert f"plimsoll deployments history {DEPLOYMENT}" in shown


def test_experiment_rename_delete_restore(home: Path) -> None:
    assert cli("experiments", "create", "churn").exit_code == 0
    assert ok_json("experiments", "rename", "churn", "churn-v2")["name"] == "churn-v2"
    assert cli("experiments", "delete", "churn-v2").exit_code == 0
    deleted = ok_json("experiments", "list", "--view", "deleted")
    assert [e["name"] for e in deleted["experiments"]] == ["churn-v2"]
    assert ok_json("experiments", "restore", "churn-v2")["lifecycle_stage"] == "active"
    assert cli("experiments", "rename", "nope", "x").exit_code == _output.EXIT_NOT_FOUND


def test_auth_administration_commands(home: Path) -> None:
    created = cli("users", "bootstrap", "alice")
    assert created.exit_code == 0, created.output
    secret = re.search(r"plm_\S+", created.stdout)
    assert secret is not None
    again = cli("users", "bootstrap", "mallory")
    assert again.exit_code == _output.EXIT_CONFLICT
    assert cli("users", "create", "bob").exit_code == 0
    assert cli("roles", "grant", "default", "bob", "contributor").exit_code == 0
    assert cli("roles", "grant", "default", "bob", "emperor").exit_code == _output.EXIT_USAGE
    token = cli("tokens", "create", "bob", "--label", "laptop")
    assert token.exit_code == 0 and "plm_" in token.stdout
    from plimsoll.platform import Platform

    platform = Platform(home=home).startup()
    try:
        assert platform.auth.authenticate(secret.group(0)).name == "alice"
    finally:
        platform.close()


# -- deleting and restoring runs; short ids of experiments ---------------------------------------


def _delete_and_restore(runs: dict[str, str], *url: str) -> None:
    short = short_id(runs["tuned"])
    deleted = ok_json("runs", "delete", short, *url)
    assert (deleted["id"], deleted["lifecycle_stage"]) == (runs["tuned"], "deleted")
    listed = ok_json("runs", "list", "-e", "churn", *url)["runs"]
    assert runs["tuned"] not in [run["id"] for run in listed]
    shown = cli("runs", "restore", short, *url)
    assert shown.exit_code == 0, shown.output
    assert f"Restored run tuned ({runs['tuned']})." in shown.stdout
    listed = ok_json("runs", "list", "-e", "churn", *url)["runs"]
    assert runs["tuned"] in [run["id"] for run in listed]


def test_runs_delete_and_restore_by_short_id(runs: dict[str, str]) -> None:
    _delete_and_restore(runs)


def test_an_experiment_is_named_by_its_short_id_too(runs: dict[str, str]) -> None:
    with Client() as client:
        churn = client.get_experiment("churn")
    listed = ok_json("runs", "list", "-e", short_id(churn.id))["runs"]
    assert sorted(run["name"] for run in listed) == ["baseline", "tuned"]
    renamed = ok_json("experiments", "rename", short_id(churn.id), "churn-2")
    assert (renamed["id"], renamed["name"]) == (churn.id, "churn-2")


def test_a_short_id_that_ends_several_runs_is_a_conflict_naming_them(home: Path) -> None:
    twins = ["a" * 24 + "0000beef", "b" * 24 + "0000beef"]
    with Client() as client:
        experiment = client.get_experiment(client.start_run("twins", capture=False).experiment_id)
        tracking = client._transport.tracking  # type: ignore[attr-defined]
        for run_id in twins:
            tracking.create_run(experiment.id, run_id=run_id, actor="t")
    result = cli("runs", "show", "0000beef")
    assert result.exit_code == _output.EXIT_CONFLICT
    assert twins[0] in result.stderr and twins[1] in result.stderr


# -- no server, or no URL ------------------------------------------------------------------------


def test_no_server_at_the_url_fails_plainly(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    monkeypatch.setenv("PLIMSOLL_URL", url)
    result = cli("runs", "list")
    assert result.exit_code == _output.EXIT_UNAVAILABLE
    assert f"Error: no Plimsoll server at {url} (connection refused" in result.stderr


@pytest.mark.parametrize("where", ["--url", "PLIMSOLL_URL"])
def test_a_url_without_a_scheme_names_the_setting(
    where: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if where == "PLIMSOLL_URL":
        monkeypatch.setenv("PLIMSOLL_URL", "127.0.0.1:8765")
        result = cli("runs", "list")
    else:
        result = cli("runs", "list", "--url", "127.0.0.1:8765")
    assert result.exit_code == _output.EXIT_USAGE
    assert f"Error: {where}: '127.0.0.1:8765' is not an http(s):// or database URL" in result.stderr
    assert "unexpected" not in result.stderr


def test_runs_delete_and_restore_over_http(live_server: Any, home: Path) -> None:
    with Client(live_server.url) as client:
        ids = seed(client)
    _delete_and_restore(ids, "--url", live_server.url)
