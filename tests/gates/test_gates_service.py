"""GateService on SQLite and PostgreSQL: checks store signed decisions; promotions run their gates
in a worker, wait for approvals by approvers (never the author nor the requester, never with an
expired approval), then move the alias through the registry with an audit entry, `alias.moved` and
a webhook delivery; waivers; concurrent promotions; tampering detected; and every refusal leaves
what is stored as it was."""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pandera.pandas as pa
import pytest
import sqlalchemy as sa
from gates_support import (
    APPROVERS,
    AUTHOR,
    NO_APPROVALS,
    POLICY,
    REQUESTER,
    evidence,
    guarded,
    model_versions,
)

from plimsoll.client import Client
from plimsoll.core import audit
from plimsoll.core.config import Settings
from plimsoll.core.errors import Conflict, GateFailed, InvalidParameter, NotFound, PermissionDenied
from plimsoll.gates.entities import Promotion
from plimsoll.gates.service import canonical
from plimsoll.model_registry.entities import SignedDecision
from plimsoll.platform import Platform

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "webhooks"))
from webhook_receiver import Receiver, make_platform, wait_for

BEA, DAN = APPROVERS


def holder(platform: Platform) -> int | None:
    try:
        return int(platform.model_registry.get_version("churn@production").version)
    except NotFound:
        return None


def snapshot(platform: Platform) -> dict[str, Any]:
    """Every row the gates and the registry's aliases keep, to show that a refusal changed nothing."""
    tables = ("gate_decisions", "gate_promotions", "gate_open_promotions", "gate_approvals", "gate_waivers")
    with platform.db.engine.connect() as conn:
        rows = {t: sorted(map(tuple, conn.execute(sa.text(f"SELECT * FROM {t}")))) for t in tables}
        rows["alias_moves"] = sorted(map(tuple, conn.execute(sa.text("SELECT * FROM alias_moves"))))
        rows["audit"] = conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar()
    return rows


def awaiting(platform: Platform, version: int = 1, auc: float = 0.9) -> Promotion:
    promotion = platform.gates.promote(
        "churn", version, to="production", evidence=evidence(auc), actor=REQUESTER
    )
    return platform.gates.run_gates(promotion.id)


# -- checks --------------------------------------------------------------------------------------


def test_a_check_stores_a_signed_decision_with_its_digests_and_evidence(platform: Platform) -> None:
    (version,) = model_versions(platform, 1)
    decision = platform.gates.check("churn/1", POLICY, evidence(p95=55), actor="ci")
    assert (decision.purpose, decision.verdict, decision.integrity) == ("check", "passed", "verified")
    assert [(r.gate, r.status, r.severity) for r in decision.results] == [
        ("auc", "passed", "blocking"),
        ("auc-change", "skipped", "blocking"),  # nothing holds production: never silently passed
        ("p95", "failed", "warning"),
    ]
    assert decision.model_digest == version.artifact_digest
    assert decision.baseline is None and decision.approvals == () and decision.approvals_required == 2
    assert decision.evidence["metrics"] == {"roc_auc": 0.9} and decision.evidence["outputs_count"] == 0
    assert platform.gates.decision(decision.id) == decision
    assert [d.id for d in platform.gates.decisions("churn", version=1)] == [decision.id]
    failed = platform.gates.check("churn", POLICY, evidence(auc=0.7), actor="ci")  # the latest version
    assert failed.verdict == "failed" and [r.gate for r in failed.blocking_failures] == ["auc"]
    with platform.db.read() as conn:
        entries = [e for e in audit.list_events(conn) if e.action == "gates.check"]
    assert [e.resource_id for e in entries] == [decision.id, failed.id]
    outcome = platform.gates.verify()
    assert (outcome.checked, outcome.ok) == (2, True)


def test_a_check_without_evidence_fails_its_gates_rather_than_passing_them(platform: Platform) -> None:
    model_versions(platform, 1)
    decision = platform.gates.check("churn/1", POLICY, actor="ci")
    assert decision.verdict == "failed" and decision.evidence["source"] == "none"
    assert decision.results[0].reason == "no evidence for roc_auc among the metrics"
    # an evidence source (the evaluation capability plugs itself in so) is asked first
    platform.gates.add_evidence_source(lambda project, model, version: {"metrics": {"roc_auc": 0.95}})
    assert platform.gates.check("churn/1", POLICY, actor="ci").verdict == "passed"


@pytest.mark.parametrize(
    ("ref", "policy", "error", "says"),
    [
        (
            "churn/1",
            "alias: production\ngates:\n  - metric: aucc\n    min: 1\n",
            InvalidParameter,
            "line 3, column 13",
        ),
        ("churn/1", POLICY.replace("model: churn", "model: fraud"), InvalidParameter, "for model 'fraud'"),
        ("churn/9", POLICY, NotFound, "has no version 9"),
        ("fraud", POLICY, NotFound, "model 'fraud' not found"),
    ],
)
def test_a_check_that_cannot_run_stores_nothing(
    platform: Platform, ref: str, policy: str, error: type[Exception], says: str
) -> None:
    model_versions(platform, 1)
    before = snapshot(platform)
    with pytest.raises(error, match=says):
        platform.gates.check(ref, policy, evidence(), actor="ci")
    assert snapshot(platform) == before


def test_the_datasets_gate_reads_validation_from_the_dataset_registry(
    platform: Platform, database_url: str, tmp_path: Path
) -> None:
    client = Client(database_url, settings=Settings(home=tmp_path / "home"))
    try:
        frame = pd.DataFrame({"x": [1, 2, 3]})
        client.datasets.register(
            "train", frame, schema=pa.DataFrameSchema({"x": pa.Column(int, pa.Check.gt(0))})
        )
        client.datasets.register(
            "holdout", frame, schema=pa.DataFrameSchema({"x": pa.Column(int, pa.Check.gt(2))})
        )
        client.datasets.register("fresh", frame)
    finally:
        client.close()
    (version,) = model_versions(platform, 1)
    assert version.run_id is not None
    platform.data.link_run(version.run_id, "train@1", direction="input", context="training", actor=AUTHOR)
    policy = "alias: production\ngates:\n  - datasets: [training, evaluation]\n"
    # the training data comes from the lineage graph; the request's claims about validation are ignored
    claimed = {"datasets": {"evaluation": {"ref": "holdout@1", "validation": "passed"}}}
    decision = platform.gates.check("churn/1", policy, claimed, actor="ci")
    (result,) = decision.results
    assert result.status == "failed"
    assert result.reason == "the evaluation dataset holdout@1 failed its validation"
    train = platform.data.get_version("train", 1)
    assert decision.data_digests["training"] == f"train@1 {train.digest}"
    fresh = platform.gates.check("churn/1", policy, {"datasets": {"evaluation": "fresh@1"}}, actor="ci")
    assert fresh.results[0].reason == "the evaluation dataset fresh@1 was never validated"
    with pytest.raises(NotFound, match="dataset version 'ghost@1' not found"):
        platform.gates.check("churn/1", policy, {"datasets": {"evaluation": "ghost@1"}}, actor="ci")


# -- promotions ----------------------------------------------------------------------------------


def test_a_promotion_runs_in_a_worker_waits_for_approvals_and_moves_the_alias(
    database_url: str, tmp_path: Path
) -> None:
    receiver = Receiver()
    platform = make_platform(database_url, tmp_path, allow_private=True)
    background = platform.start_background(threads=1)
    try:
        guarded(platform)
        hook = platform.webhooks.create("deploy", receiver.url(), ["alias.moved"], actor="root")
        requested = platform.gates.promote(
            "churn", 1, to="production", comment="first release", evidence=evidence(), actor=REQUESTER
        )
        assert (requested.status, requested.approvals_required) == ("checking", 2)
        assert requested.job is not None
        wait_for(
            lambda: platform.gates.get_promotion(requested.id).status != "checking", what="the gates job"
        )
        promotion = platform.gates.get_promotion(requested.id)
        assert promotion.status == "awaiting_approval" and holder(platform) is None
        pending = platform.gates.decision(promotion.decision or "")
        assert (pending.purpose, pending.verdict, pending.promotion) == ("promotion", "pending", promotion.id)

        first = platform.gates.approve(promotion.id, comment="numbers look right", actor=BEA)
        assert first.status == "awaiting_approval" and [a.approver for a in first.approvals] == [BEA]
        done = platform.gates.approve(promotion.id, actor=DAN)
        assert (done.status, done.closed_by, holder(platform)) == ("promoted", DAN, 1)

        decision = platform.gates.decision(done.decision or "")
        assert (decision.verdict, decision.integrity) == ("passed", "verified")
        assert [a.approver for a in decision.approvals] == [BEA, DAN]
        (move,) = platform.model_registry.alias_history("churn", "production")
        assert (move.action, move.version, move.actor) == ("promote", 1, DAN)
        assert move.reason == f"promotion {promotion.id}: first release"
        moved = [e for e in platform.outbox.follow(None, ["alias.moved"], 100).events]
        assert [e.payload["decision"] for e in moved] == [decision.id]
        types = [
            e.type for e in platform.outbox.follow(None, None, 1000).events if e.type.startswith("promotion.")
        ]
        assert types == [
            "promotion.requested",
            "promotion.decided",
            "promotion.approved",
            "promotion.approved",
            "promotion.decided",
        ]
        with platform.db.read() as conn:
            actions = [
                e.action for e in audit.list_events(conn) if e.action.startswith(("gates.", "model.alias"))
            ]
        assert actions == [
            "gates.policy_set",
            "gates.promotion_requested",
            "gates.decision",
            "gates.approve",
            "gates.approve",
            "model.alias_promote",
            "gates.promoted",
        ]

        # the one webhook path delivers the move to the subscriber
        wait_for(lambda: receiver.count() == 1, what="the webhook delivery")
        (request,) = receiver.requests
        assert request.headers["X-Plimsoll-Event"] == "alias.moved"
        assert orjson.loads(request.body)["payload"]["decision"] == decision.id
        assert platform.webhooks.deliveries(hook.subscription.id)[0].event_type == "alias.moved"
    finally:
        background.stop()
        platform.close()
        receiver.stop()


def test_with_no_approvals_required_a_passing_promotion_moves_at_once(platform: Platform) -> None:
    guarded(platform, NO_APPROVALS)
    promotion = awaiting(platform)
    assert (promotion.status, holder(platform)) == ("promoted", 1)
    # the next version is judged against the holder's evidence, from the decision that moved it
    worse = awaiting(platform, version=2, auc=0.85)
    assert worse.status == "failed" and holder(platform) == 1
    decision = platform.gates.decision(worse.decision or "")
    change = decision.results[1]
    assert (change.gate, change.status, decision.baseline) == ("auc-change", "failed", 1)
    assert decision.baseline_evidence == f"decision:{promotion.decision}"
    assert "worse than the baseline churn/1 (production)'s 0.9 by 0.05" in worse.outcome
    better = awaiting(platform, version=2, auc=0.95)
    assert (better.status, holder(platform)) == ("promoted", 2)


def test_a_failed_promotion_ends_and_frees_the_alias(platform: Platform) -> None:
    guarded(platform)
    failed = awaiting(platform, auc=0.5)
    assert failed.status == "failed" and failed.closed_at is not None
    assert failed.outcome.startswith("gates failed: auc: roc_auc is 0.5, not at least 0.8")
    with pytest.raises(Conflict, match="is failed: only one awaiting approval"):
        platform.gates.approve(failed.id, actor=BEA)
    assert awaiting(platform).status == "awaiting_approval"  # the alias is free for the next


def test_self_approval_and_non_approvers_are_refused_and_nothing_changes(platform: Platform) -> None:
    guarded(platform)
    promotion = awaiting(platform)
    platform.auth.grant("default", AUTHOR, "admin", actor="root")  # an author however high their role
    platform.auth.grant("default", REQUESTER, "approver", actor="root")
    platform.auth.create_user("eve", actor="root")
    platform.auth.grant("default", "eve", "contributor", actor="root")
    before = snapshot(platform)
    with pytest.raises(PermissionDenied, match="an author cannot approve their own version"):
        platform.gates.approve(promotion.id, actor=AUTHOR)
    with pytest.raises(PermissionDenied, match="the requester cannot approve it"):
        platform.gates.approve(promotion.id, actor=REQUESTER)
    with pytest.raises(PermissionDenied, match=r"'eve' holds the contributor role .* hold the approver role"):
        platform.gates.approve(promotion.id, actor="eve")
    with pytest.raises(PermissionDenied, match="'nobody' holds no role"):
        platform.gates.approve(promotion.id, actor="nobody")
    assert snapshot(platform) == before


def test_a_policy_may_name_its_approvers(platform: Platform) -> None:
    named = POLICY.replace("  expires_after: 1h\n", "  expires_after: 1h\n  approvers: [bea, fay]\n")
    guarded(platform, named)
    promotion = awaiting(platform)
    with pytest.raises(
        PermissionDenied, match="not among the approvers the policy of churn@production names"
    ):
        platform.gates.approve(promotion.id, actor=DAN)


def test_the_alias_access_says_who_may_request_and_approve(platform: Platform) -> None:
    guarded(platform)
    platform.model_registry.set_alias_access("churn", "production", request=["ada"], actor="root")
    with pytest.raises(PermissionDenied, match="'cy' may not request churn@production"):
        platform.gates.promote("churn", 2, to="production", evidence=evidence(), actor=REQUESTER)
    assert platform.gates.list_promotions("churn", alias="production") == []  # nothing stored
    platform.model_registry.set_alias_access("churn", "production", approve=["bea"], actor="root")
    promotion = awaiting(platform)
    with pytest.raises(PermissionDenied, match="'dan' may not approve churn@production"):
        platform.gates.approve(promotion.id, actor=DAN)
    assert platform.gates.approve(promotion.id, actor=BEA).approvals[0].approver == BEA


def test_an_expired_approval_does_not_count(platform: Platform) -> None:
    guarded(platform)
    now = [platform.gates.clock()]
    platform.gates.clock = lambda: now[0]
    promotion = awaiting(platform)
    platform.gates.approve(promotion.id, actor=BEA)
    now[0] += 2 * 3_600_000  # the policy's approvals expire after an hour
    still = platform.gates.approve(promotion.id, actor=DAN)
    assert still.status == "awaiting_approval" and holder(platform) is None
    before = snapshot(platform)
    with pytest.raises(
        Conflict, match=r"needs 2 valid approvals; it has 1 \(bea's expired at .*: approve again\)"
    ):
        platform.gates.complete(promotion.id, actor=REQUESTER)
    assert snapshot(platform) == before
    # an approver who lost the role no longer counts either
    platform.auth.grant("default", DAN, "contributor", actor="root")
    assert platform.gates.approve(promotion.id, comment="still fine", actor=BEA).status == "awaiting_approval"
    with pytest.raises(Conflict, match="it has 1; dan no longer holds the approver role"):
        platform.gates.complete(promotion.id, actor=REQUESTER)
    platform.auth.grant("default", DAN, "approver", actor="root")
    assert (platform.gates.complete(promotion.id, actor=REQUESTER).status, holder(platform)) == (
        "promoted",
        1,
    )
    with pytest.raises(Conflict, match="holds version 1 already"):
        platform.gates.promote("churn", 1, to="production", actor=REQUESTER)


def test_a_rejection_needs_a_comment_and_ends_the_promotion(platform: Platform) -> None:
    guarded(platform)
    promotion = awaiting(platform)
    before = snapshot(platform)
    for blank in ("", "   \n\t"):
        with pytest.raises(InvalidParameter, match="comment: is required"):
            platform.gates.reject(promotion.id, comment=blank, actor=BEA)
    with pytest.raises(PermissionDenied, match="to reject a promotion, hold the approver role"):
        platform.gates.reject(promotion.id, comment="no", actor=REQUESTER)
    assert snapshot(platform) == before
    rejected = platform.gates.reject(promotion.id, comment="latency on the new region", actor=BEA)
    assert (rejected.status, rejected.outcome, rejected.closed_by) == (
        "rejected",
        "latency on the new region",
        BEA,
    )
    assert platform.gates.decision(rejected.decision or "").verdict == "rejected"
    with pytest.raises(Conflict, match="it has ended"):
        platform.gates.reject(promotion.id, comment="again", actor=DAN)
    assert holder(platform) is None


def test_waivers_need_a_reason_and_an_approver_and_expire(platform: Platform) -> None:
    guarded(platform, NO_APPROVALS.replace("severity: warning", "severity: blocking"))
    now = [platform.gates.clock()]
    platform.gates.clock = lambda: now[0]
    platform.auth.grant("default", AUTHOR, "approver", actor="root")
    before = snapshot(platform)
    with pytest.raises(InvalidParameter, match="reason: is required"):
        platform.gates.waive("churn", 1, "production", "p95", reason=" ", hours=4, actor=BEA)
    with pytest.raises(PermissionDenied, match="to waive a gate of churn/1, hold the approver role"):
        platform.gates.waive("churn", 1, "production", "p95", reason="warming up", hours=4, actor=REQUESTER)
    with pytest.raises(PermissionDenied, match="an author cannot waive their own version"):
        platform.gates.waive("churn", 1, "production", "p95", reason="warming up", hours=4, actor=AUTHOR)
    with pytest.raises(NotFound, match="has no gate 'p99'; its gates are: auc, auc-change, p95"):
        platform.gates.waive("churn", 1, "production", "p99", reason="warming up", hours=4, actor=BEA)
    with pytest.raises(InvalidParameter, match="hours"):
        platform.gates.waive("churn", 1, "production", "p95", reason="warming up", hours=24 * 91, actor=BEA)
    assert snapshot(platform) == before

    waiver = platform.gates.waive(
        "churn", 1, "production", "p95", reason="new region warming up", hours=4, actor=BEA
    )
    assert platform.gates.waivers("churn", alias="production") == [waiver]
    slow = evidence(p95=90)
    waived = platform.gates.promote("churn", 1, to="production", evidence=slow, actor=REQUESTER)
    waived = platform.gates.run_gates(waived.id)
    assert (waived.status, holder(platform)) == ("promoted", 1)
    decision = platform.gates.decision(waived.decision or "")
    assert decision.results[2].status == "waived" and decision.results[2].waiver == waiver.id
    assert decision.waivers == (waiver,)
    # for version 1 only, and only while it lasts
    now[0] += 5 * 3_600_000
    late = platform.gates.check(
        "churn/1", NO_APPROVALS.replace("severity: warning", "severity: blocking"), slow, actor="ci"
    )
    assert late.results[2].status == "failed" and late.waivers == ()


def test_of_two_concurrent_promotions_of_one_alias_exactly_one_wins(platform: Platform) -> None:
    guarded(platform, versions=3)
    barrier = threading.Barrier(2)
    outcomes: dict[int, Any] = {}

    def request(version: int) -> None:
        barrier.wait()
        try:
            outcomes[version] = platform.gates.promote(
                "churn", version, to="production", evidence=evidence(), actor=REQUESTER
            )
        except Conflict as conflict:
            outcomes[version] = conflict

    threads = [threading.Thread(target=request, args=(version,)) for version in (2, 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [o for o in outcomes.values() if isinstance(o, Promotion)]
    lost = [o for o in outcomes.values() if isinstance(o, Conflict)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert "is already open" in lost[0].message or "at the same time" in lost[0].message
    assert [p.id for p in platform.gates.list_promotions("churn", alias="production")] == [won[0].id]


def test_a_promotion_whose_alias_moved_meanwhile_ends_conflicted(platform: Platform) -> None:
    guarded(platform, versions=3)
    platform.model_registry.set_alias("churn", "production", 1, actor="root")
    promotion = awaiting(platform, version=3)
    assert platform.gates.decision(promotion.decision or "").baseline == 1
    platform.model_registry.set_alias("churn", "production", 2, actor="root")  # not protected: by hand
    platform.gates.approve(promotion.id, actor=BEA)
    with pytest.raises(Conflict, match=r"holds version 2, not 1 as when the gates of decision .* ran"):
        platform.gates.approve(promotion.id, actor=DAN)
    ended = platform.gates.get_promotion(promotion.id)
    assert ended.status == "conflicted" and "request the promotion again" in ended.outcome
    assert holder(platform) == 2


def test_a_tampered_decision_is_reported_and_moves_nothing(platform: Platform) -> None:
    guarded(platform)
    platform.model_registry.protect_alias("churn", "production", actor="root")
    promotion = awaiting(platform, auc=0.5)  # its gates failed
    decision = platform.gates.decision(promotion.decision or "")
    assert decision.verdict == "failed"
    # someone with the database, not the key, turns the failed decision into a pending one ...
    forged = canonical({**decision.body(), "verdict": "pending"})
    with platform.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE gate_decisions SET body = :body, verdict = 'pending' WHERE id = :id"),
            {"body": forged, "id": decision.id},
        )
        conn.execute(
            sa.text("UPDATE gate_promotions SET status = 'awaiting_approval' WHERE id = :id"),
            {"id": promotion.id},
        )
    seen = platform.gates.decision(decision.id)
    assert (seen.integrity, seen.problem) == ("tampered", "the signature does not match the stored record")
    outcome = platform.gates.verify()
    assert not outcome.ok and [d.id for d in outcome.problems] == [decision.id]
    # ... and approvals do not move the alias with it
    platform.gates.approve(promotion.id, actor=BEA)
    with pytest.raises(GateFailed, match=r"does not verify .* changed outside Plimsoll"):
        platform.gates.approve(promotion.id, actor=DAN)
    assert holder(platform) is None
    # a column changed alone is caught too
    honest = platform.gates.check("churn/1", POLICY, evidence(auc=0.5), actor="ci")
    with platform.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE gate_decisions SET verdict = 'passed' WHERE id = :id"), {"id": honest.id}
        )
    assert (
        platform.gates.decision(honest.id).problem
        == "column 'verdict' holds 'passed', the signed record 'failed'"
    )


def test_the_registry_moves_a_protected_alias_only_with_a_signed_passing_decision(platform: Platform) -> None:
    guarded(platform, NO_APPROVALS)
    registry = platform.model_registry
    registry.protect_alias("churn", "production", actor="root")
    with pytest.raises(Conflict, match="protected: it moves only through a promotion"):
        registry.set_alias("churn", "production", 1, actor="root")
    check = platform.gates.check("churn/1", NO_APPROVALS, evidence(), actor="ci")
    failed = platform.gates.check("churn/1", NO_APPROVALS, evidence(auc=0.1), actor="ci")
    key_id = check.key_id

    def attempt(body: dict[str, Any], signature: str | None = None) -> None:
        text = canonical(body)
        mac = signature if signature is not None else platform.audit.keyring.sign(b"x", text.encode())[1]
        with platform.gates._change("mallory") as change:
            registry.promote_in(change, SignedDecision(str(body["id"]), text, key_id, mac))

    passing = {**check.body(), "purpose": "promotion", "verdict": "passed"}
    with pytest.raises(GateFailed, match="signature does not verify"):
        attempt(passing)  # signed, but for another kind of record: not a decision's signature
    with pytest.raises(GateFailed, match="signature does not verify"):
        attempt(passing, "0" * 64)
    with pytest.raises(GateFailed, match="not a promotion's decision"):
        attempt(check.body(), check.signature)  # a CI check's decision does not move an alias
    assert failed.verdict == "failed"
    signed_failed = {**failed.body(), "purpose": "promotion"}
    with pytest.raises(GateFailed, match="signature does not verify"):
        attempt(signed_failed, failed.signature)  # its purpose changed after signing
    assert holder(platform) is None and registry.alias_history("churn", "production") == []
    promoted = awaiting(platform)
    assert (promoted.status, holder(platform)) == ("promoted", 1)


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (
            lambda g: g.set_policy("churn", "staging", POLICY, actor="root"),
            InvalidParameter,
            "guards alias 'production'",
        ),
        (
            lambda g: g.set_policy("fraud", "production", POLICY.replace("churn", "fraud"), actor="root"),
            NotFound,
            "model 'fraud'",
        ),
        (
            lambda g: g.set_policy("churn", "production", "gates: [\n", actor="root"),
            InvalidParameter,
            "line 2",
        ),
        (
            lambda g: g.promote("churn", 1, to="staging", actor=REQUESTER),
            NotFound,
            "no release policy guards churn@staging",
        ),
        (lambda g: g.promote("churn", 7, to="production", actor=REQUESTER), NotFound, "has no version 7"),
        (
            lambda g: g.promote("churn", 1, to="Prod", actor=REQUESTER),
            InvalidParameter,
            "to: must be a lowercase word",
        ),
        (lambda g: g.approve("0" * 32, actor=BEA), NotFound, "promotion '0+' not found"),
        (lambda g: g.approve("nope", actor=BEA), InvalidParameter, "promotion_id: must be an id"),
        (lambda g: g.decision("0" * 32), NotFound, "decision '0+' not found"),
    ],
)
def test_bad_requests_are_named_and_change_nothing(
    platform: Platform, call: Any, error: type[Exception], says: str
) -> None:
    guarded(platform, versions=1)
    before = snapshot(platform)
    with pytest.raises(error, match=says):
        call(platform.gates)
    assert snapshot(platform) == before
