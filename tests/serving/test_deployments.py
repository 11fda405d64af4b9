"""Deployments on a real platform (SQLite and PostgreSQL): made and changed by people, following
their alias through the registry's moves, rolled out in steps by the rollout job from the traffic
replicas report, paused for want of data, rolled back (by hand, and automatically with the alias
moved back under the promotion's decision)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from serving_support import MINUTE, POLICY, Clock, drain, events_of, model_versions, promote, stats

from plimsoll.core.errors import Conflict, GateFailed, InvalidParameter, NotFound
from plimsoll.platform import Platform
from plimsoll.serving.entities import ROLE_CANARY, ROLE_STABLE, SYSTEM_ACTOR

QUICK = {"analysis_window_s": 60, "min_requests": 50}


def audit_actions(platform: Platform, prefix: str) -> list[tuple[str, str]]:
    with platform.db.engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT actor, action FROM audit_events WHERE action LIKE :p ORDER BY seq"),
            {"p": prefix + "%"},
        )
        return [(r[0], r[1]) for r in rows]


def test_a_deployment_serves_its_alias_holder_and_records_each_change(platform: Platform) -> None:
    model_versions(platform, 3)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    made = platform.serving.deploy(
        "churn-prod", "churn@production", shadow=3, sticky_key="user_id", actor="ada"
    )
    assert (made.stable, made.canary, made.shadow, made.state, made.revision) == (1, None, 3, "stable", 1)
    routing = platform.serving.routing("default", "churn-prod")
    assert (routing.stable, routing.shadow, routing.sticky_key, routing.versions()) == (
        1,
        3,
        "user_id",
        (1, 3),
    )
    assert routing.choose("u1") == (1, ROLE_STABLE)
    canary = platform.serving.deploy("churn-prod", "churn@production", canary=2, weight=20, actor="bo")
    assert (canary.canary, canary.canary_weight, canary.state, canary.step, canary.revision) == (
        2,
        20.0,
        "canary",
        0,
        2,
    )
    assert canary.shadow is None  # a deploy states the whole deployment
    assert [d.name for d in platform.serving.list()] == ["churn-prod"]
    lines = platform.serving.history("churn-prod")
    assert [(h.action, h.actor) for h in lines] == [("canary_started", "bo"), ("created", "ada")]
    assert lines[0].before["canary"] is None and lines[0].after["canary"] == 2
    changed = events_of(platform, "deployment.changed")
    assert [(e["action"], e["revision"]) for e in changed] == [("created", 1), ("canary_started", 2)]
    assert audit_actions(platform, "deployment.") == [
        ("ada", "deployment.created"),
        ("bo", "deployment.canary_started"),
    ]
    walked = platform.lineage.upstream("default", "deployment:churn-prod")
    assert {"model:churn/1", "model:churn/2", "model:churn/3"} <= {n.id for n in walked.nodes}


@pytest.mark.parametrize(
    ("given", "error", "says"),
    [
        ({"model_ref": "churn"}, InvalidParameter, "model.*MODEL@ALIAS"),
        ({"canary": 2, "weight": 150}, InvalidParameter, "weight.*below 100"),
        ({"weight": 10}, InvalidParameter, "weight.*give the canary"),
        ({"canary": 0}, InvalidParameter, "canary.*from 1"),
        ({"policy": {"steps": [10, 50]}}, InvalidParameter, "policy.steps.*end at 100"),
        ({"policy": {"speed": 1}}, InvalidParameter, "unknown fields"),
        ({"canary": 9}, NotFound, "9"),
        ({"model_ref": "fraud@production"}, NotFound, "fraud"),
        ({"model_ref": "churn@staging"}, NotFound, "churn@staging"),
        ({"project": "nowhere"}, NotFound, "nowhere"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    platform: Platform, given: dict[str, object], error: type[Exception], says: str
) -> None:
    model_versions(platform, 2)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    arguments: dict[str, object] = {"name": "churn-prod", "model_ref": "churn@production", **given}
    with pytest.raises(error, match=says):
        platform.serving.deploy(actor="ada", **arguments)  # type: ignore[arg-type]
    with pytest.raises(NotFound, match="deployment 'missing' not found"):
        platform.serving.get("missing")
    assert platform.serving.list() == []


def test_the_alias_moving_starts_a_canary_that_advances_pauses_and_becomes_stable(platform: Platform) -> None:
    clock = Clock(platform)
    model_versions(platform, 2)
    registry = platform.model_registry
    registry.set_alias("churn", "production", 1, actor="ada")
    platform.serving.deploy(
        "churn-prod", "churn@production", policy={**QUICK, "steps": [10, 50, 100]}, actor="ada"
    )
    registry.set_alias("churn", "production", 2, actor="ada")
    assert drain(platform) == 2
    drain(platform)  # handled once: the move was acted on already
    running = platform.serving.get("churn-prod")
    assert (running.stable, running.canary, running.canary_weight, running.state) == (1, 2, 10.0, "canary")
    assert running.reason == "churn@production moved to 2 (set by ada)"
    assert platform.serving.roll_out() == {"not_due": 1}
    clock.advance(MINUTE)
    assert platform.serving.roll_out() == {"paused": 1}  # no traffic: it waits, never advances
    paused = platform.serving.get("churn-prod")
    assert paused.state == "paused" and "0 canary requests of the 50 needed" in paused.reason
    assert platform.serving.roll_out() == {"paused": 1}
    assert [h.action for h in platform.serving.history("churn-prod")].count("paused") == 1  # said once
    reported = platform.serving.report_traffic(
        "default",
        "churn-prod",
        [stats(2, ROLE_CANARY, clock.now - 30_000, 60), stats(1, ROLE_STABLE, clock.now - 30_000, 540)],
        "replica-a",
    )
    assert reported == 2
    assert platform.serving.roll_out() == {"advanced": 1}
    advanced = platform.serving.get("churn-prod")
    assert (advanced.state, advanced.step, advanced.canary_weight) == ("canary", 1, 50.0)
    line = platform.serving.history("churn-prod")[0]
    assert line.action == "step_advanced" and line.actor == SYSTEM_ACTOR
    assert (
        line.analysis is not None
        and {c["name"]: c["status"] for c in line.analysis["checks"]}["error_rate"] == "passed"
    )
    clock.advance(MINUTE)
    platform.serving.report_traffic(
        "default", "churn-prod", [stats(2, ROLE_CANARY, clock.now - 20_000, 300)], "replica-a"
    )
    platform.serving.report_traffic(
        "default", "churn-prod", [stats(1, ROLE_STABLE, clock.now - 20_000, 300)], "replica-b"
    )
    assert platform.serving.roll_out() == {"advanced": 1}
    clock.advance(MINUTE)
    platform.serving.report_traffic(
        "default", "churn-prod", [stats(2, ROLE_CANARY, clock.now - 20_000, 100)], "replica-a"
    )
    assert platform.serving.roll_out() == {"promoted": 1}
    done = platform.serving.get("churn-prod")
    assert (done.stable, done.canary, done.state, done.canary_weight) == (2, None, "stable", 0.0)
    totals = {
        (t.version, t.role): t.requests
        for t in platform.serving.traffic("churn-prod", since=clock.now - 10 * MINUTE)
    }
    assert totals == {(2, ROLE_CANARY): 460, (1, ROLE_STABLE): 840}


def test_a_failing_canary_of_a_protected_alias_is_rolled_back_with_the_alias_under_its_decision(
    platform: Platform,
) -> None:
    clock = Clock(platform)
    model_versions(platform, 2)
    registry = platform.model_registry
    platform.gates.set_policy("churn", "production", POLICY, actor="root")
    registry.protect_alias("churn", "production", actor="root")
    assert promote(platform, 1).status == "promoted"
    platform.serving.deploy("churn-prod", "churn@production", policy=QUICK, actor="ada")
    with pytest.raises(
        GateFailed, match=r"canary: churn/2 has no passing promotion decision .* 'production'"
    ):
        platform.serving.deploy("churn-prod", "churn@production", canary=2, actor="ada")
    with pytest.raises(GateFailed, match="shadow: churn/2"):
        platform.serving.deploy("churn-prod", "churn@production", shadow=2, actor="ada")
    promotion = promote(platform, 2)
    assert promotion.status == "promoted" and promotion.decision
    drain(platform)
    running = platform.serving.get("churn-prod")
    assert (running.stable, running.canary, running.decision) == (1, 2, promotion.decision)
    platform.serving.deploy(
        "churn-prod", "churn@production", shadow=2, policy=QUICK, actor="ada"
    )  # promoted: allowed
    clock.advance(MINUTE)
    platform.serving.report_traffic(
        "default",
        "churn-prod",
        [
            stats(2, ROLE_CANARY, clock.now - 30_000, 100, errors=12),
            stats(1, ROLE_STABLE, clock.now - 30_000, 900, errors=1),
        ],
        "replica-a",
    )
    assert platform.serving.roll_out() == {"rolled_back": 1}
    back = platform.serving.get("churn-prod")
    assert (back.stable, back.canary, back.state) == (1, None, "rolled_back")
    assert back.reason.startswith("the rollout analysis failed: error_rate: canary 0.1200")
    assert registry.get_version("churn@production").version == 1
    move = registry.alias_history("churn", "production")[0]
    assert (move.action, move.actor, move.version, move.previous) == ("rollback", SYSTEM_ACTOR, 1, 2)
    moved = events_of(platform, "alias.moved")[-1]
    assert (moved["action"], moved["decision"]) == ("rollback", promotion.decision)
    line = platform.serving.history("churn-prod")[0]
    assert (line.action, line.actor, line.decision) == ("rolled_back", SYSTEM_ACTOR, promotion.decision)
    assert line.analysis is not None and line.analysis["verdict"] == "fail"
    assert (SYSTEM_ACTOR, "model.alias_rollback") in audit_actions(platform, "model.alias_")
    drain(platform)  # the move back changes nothing more
    assert platform.serving.get("churn-prod").revision == back.revision


def test_a_manual_rollback_is_one_call_and_a_registry_rollback_ends_the_canary(platform: Platform) -> None:
    model_versions(platform, 3)
    registry = platform.model_registry
    registry.set_alias("churn", "production", 1, actor="ada")
    platform.serving.deploy("churn-prod", "churn@production", actor="ada")
    registry.set_alias("churn", "production", 2, actor="ada")
    drain(platform)
    back = platform.serving.rollback("churn-prod", reason="p99 doubled", actor="bo")
    assert (back.stable, back.canary, back.state, back.reason) == (1, None, "rolled_back", "p99 doubled")
    assert registry.get_version("churn@production").version == 1
    assert registry.alias_history("churn", "production")[0].actor == "bo"
    with pytest.raises(Conflict, match="no paused rollout"):
        platform.serving.resume("churn-prod", actor="bo")
    registry.set_alias("churn", "production", 3, actor="ada")
    drain(platform)
    assert platform.serving.get("churn-prod").canary == 3
    paused = platform.serving.pause("churn-prod", actor="bo")
    assert (paused.state, paused.paused_by) == ("paused", "bo")
    assert platform.serving.roll_out() == {"held": 1}
    assert platform.serving.resume("churn-prod", actor="bo").state == "canary"
    registry.rollback("churn", "production", actor="ada")  # the registry's own rollback
    drain(platform)
    ended = platform.serving.get("churn-prod")
    assert (ended.stable, ended.canary, ended.state) == (1, None, "rolled_back")
    with pytest.raises(Conflict, match="no canary"):
        platform.serving.pause("churn-prod", actor="bo")


def test_traffic_reports_are_checked_and_added_up(platform: Platform) -> None:
    model_versions(platform, 1)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    platform.serving.deploy("churn-prod", "churn@production", actor="ada")
    at = 1_800_000_000_000
    for replica in ("a", "b"):
        platform.serving.report_traffic(
            "default", "churn-prod", [stats(1, ROLE_STABLE, at, 10, errors=1)], replica
        )
    platform.serving.report_traffic("default", "churn-prod", [stats(1, ROLE_STABLE, at + 2_000, 5)], "a")
    [total] = platform.serving.traffic("churn-prod", since=at, until=at + 60_000)
    assert (total.requests, total.errors, total.error_rate, total.latency_quantile(0.99)) == (
        25,
        2,
        0.08,
        5.0,
    )
    buckets = platform.serving.traffic("churn-prod", since=at, until=at + 60_000, bucket_s=30)
    assert [(b.since, b.requests) for b in buckets] == [(at - at % 30_000, 25)]
    with pytest.raises(InvalidParameter, match=r"stats\[0\].errors"):
        platform.serving.report_traffic(
            "default", "churn-prod", [stats(1, ROLE_STABLE, at, 1, errors=2)], "a"
        )
    with pytest.raises(InvalidParameter, match=r"stats\[0\].role"):
        platform.serving.report_traffic("default", "churn-prod", [stats(1, "other", at, 1)], "a")
    with pytest.raises(NotFound, match="deployment 'nope'"):
        platform.serving.report_traffic("default", "nope", [], "a")


def _log(
    platform: Platform, role: str, version: int, ids: list[str], predictions: list[object], at: int
) -> None:
    import pyarrow as pa

    table = pa.table({"__id": ids, "__ts": [at + i for i in range(len(ids))], "__prediction": predictions})
    platform.monitoring.log(
        "predictions", table, model=f"churn/{version}", deployment="churn-prod", role=role, actor="server"
    )


def _rolling(platform: Platform, clock: Clock, policy: dict[str, object], shadow: int | None = None) -> int:
    """churn-prod serving churn/1, following churn@production to churn/2 (a canary now); the
    start of the canary's window."""
    model_versions(platform, 3)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    platform.serving.deploy("churn-prod", "churn@production", shadow=shadow, policy=policy, actor="ada")
    platform.model_registry.set_alias("churn", "production", 2, actor="ada")
    drain(platform)
    started = clock.now
    clock.advance(MINUTE)
    platform.serving.report_traffic(
        "default",
        "churn-prod",
        [stats(2, ROLE_CANARY, started + 1_000, 100), stats(1, ROLE_STABLE, started + 1_000, 900)],
        "replica-a",
    )
    return started


def test_a_canary_whose_predictions_drift_from_the_stable_versions_is_rolled_back(platform: Platform) -> None:
    import numpy as np

    clock = Clock(platform)
    started = _rolling(platform, clock, QUICK)
    draw = np.random.default_rng(0)
    _log(
        platform,
        "stable",
        1,
        [f"s{i}" for i in range(200)],
        list(draw.normal(0.2, 0.05, 200)),
        started + 2_000,
    )
    _log(
        platform,
        "canary",
        2,
        [f"c{i}" for i in range(200)],
        list(draw.normal(0.8, 0.05, 200)),
        started + 2_000,
    )
    assert platform.serving.roll_out() == {"rolled_back": 1}
    line = platform.serving.history("churn-prod")[0]
    assert line.analysis is not None
    checks = {c["name"]: c["status"] for c in line.analysis["checks"]}
    assert checks == {"requests": "passed", "error_rate": "passed", "predictions": "failed"}
    assert "predictions:" in line.reason
    assert platform.model_registry.get_version("churn@production").version == 1


def test_shadow_agreement_and_realised_quality_are_judged_where_asked(platform: Platform) -> None:
    import pyarrow as pa

    from plimsoll.serving.entities import shadow_id

    clock = Clock(platform)
    policy = {**QUICK, "min_shadow_agreement": 0.9, "quality_metric": "accuracy"}
    started = _rolling(platform, clock, policy, shadow=3)
    at = started + 2_000
    answers = [i % 2 for i in range(100)]
    _log(platform, "stable", 1, [f"s{i}" for i in range(100)], answers, at)
    _log(platform, "canary", 2, [f"c{i}" for i in range(100)], answers, at)
    assert platform.serving.roll_out() == {"paused": 1}  # no shadow answers, no labels yet: it waits
    waiting = platform.serving.get("churn-prod")
    assert (
        "shadow_agreement: 0 canary answers joined" in waiting.reason
        and "quality: 0 labelled" in waiting.reason
    )
    shadowed = [a if i % 20 else 1 - a for i, a in enumerate(answers)]  # 95 of 100 agree
    _log(platform, "shadow", 3, [shadow_id(f"c{i}") for i in range(100)], shadowed, at)
    ids = [f"s{i}" for i in range(100)] + [f"c{i}" for i in range(100)]
    truth = [a if i % 10 else 1 - a for i, a in enumerate(answers)] * 2  # 90% right on both sides
    labels = pa.table({"__id": ids, "__ts": [at + i for i in range(200)], "__label": truth})
    platform.monitoring.log("labels", labels, model="churn", actor="labeller")
    assert platform.serving.roll_out() == {"advanced": 1}
    line = platform.serving.history("churn-prod")[0]
    assert line.analysis is not None
    found = {c["name"]: c for c in line.analysis["checks"]}
    assert found["shadow_agreement"]["status"] == "passed" and found["shadow_agreement"]["value"] == 0.95
    assert (
        found["quality"]["status"] == "passed"
        and found["quality"]["canary"] == found["quality"]["stable"] == 0.9
    )
    assert found["predictions"]["status"] == "passed"


def test_a_worker_follows_the_alias_through_the_serving_consumer(platform: Platform) -> None:
    import time

    model_versions(platform, 2)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    platform.serving.deploy("churn-prod", "churn@production", actor="ada")
    background = platform.start_background(threads=1)
    try:
        platform.model_registry.set_alias("churn", "production", 2, actor="ada")
        deadline = time.monotonic() + 60
        while platform.serving.get("churn-prod").canary != 2:
            assert time.monotonic() < deadline, "the serving consumer never started the canary"
            time.sleep(0.05)
    finally:
        background.stop()
    line = platform.serving.history("churn-prod")[0]
    assert (line.action, line.actor) == ("canary_started", SYSTEM_ACTOR)


def test_without_auto_rollback_a_failed_analysis_holds_the_rollout_for_a_person(platform: Platform) -> None:
    clock = Clock(platform)
    started = _rolling(platform, clock, {**QUICK, "auto_rollback": False})
    platform.serving.report_traffic(
        "default", "churn-prod", [stats(2, ROLE_CANARY, started + 2_000, 10, errors=10)], "replica-b"
    )
    assert platform.serving.roll_out() == {"paused": 1}
    held = platform.serving.get("churn-prod")
    assert (held.state, held.paused_by, held.canary) == ("paused", SYSTEM_ACTOR, 2)
    assert held.reason.startswith("the rollout analysis failed: error_rate")
    assert platform.serving.roll_out() == {"held": 1}  # the job leaves it to a person
    assert platform.model_registry.get_version("churn@production").version == 2
    assert platform.serving.rollback("churn-prod", actor="bo").state == "rolled_back"
    assert platform.model_registry.get_version("churn@production").version == 1
