"""Incidents on SQLite and PostgreSQL: an announced alert opens one for its model (or joins the one
open), assigned to the model's incident-response owner, else its monitoring owner, else nobody;
acknowledged, noted and resolved by people (with audit entries and events), never by an alert; a
timeline of what happened around it (alias moves, versions, gate decisions, training data); alerts
and incidents as lineage nodes linked to the model version."""

from __future__ import annotations

from pathlib import Path

import pytest
from incidents_support import HOUR, T0, Clock, check, drain, model_versions, signal

from plimsoll.core.audit import list_events
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import now_ms
from plimsoll.platform import Platform

POLICY = "alias: production\ngates:\n  - {name: auc, metric: roc_auc, min: 0.8}\n"


def audit_actions(platform: Platform, resource: str) -> list[tuple[str, str]]:
    with platform.db.read() as conn:
        found = list_events(conn, resource_id=resource)
    return [(e.action, e.actor) for e in found]


@pytest.mark.parametrize(
    ("owners", "owner", "role"),
    [
        ({"incident_response": "irene", "monitoring": "mo"}, "irene", "incident_response"),
        ({"monitoring": "mo", "training": "tess"}, "mo", "monitoring"),
        ({"training": "tess"}, None, None),
        (None, None, None),
    ],
)
def test_an_incident_goes_to_the_models_owner(
    platform: Platform, owners: dict[str, str] | None, owner: str | None, role: str | None
) -> None:
    model_versions(platform, 1, owners=owners)
    Clock(platform)
    check(platform, [signal("data_drift", True)], at=T0)
    drain(platform)
    (incident,) = platform.incidents.list_incidents()
    assert (incident.owner, incident.owner_role, incident.state) == (owner, role, "open")
    (opened,) = platform.outbox.follow(types=["incident.opened"]).events
    assert opened.payload["owner"] == owner and opened.payload["incident"] == incident.id


def test_alerts_of_one_model_join_its_open_incident_and_others_open_their_own(platform: Platform) -> None:
    model_versions(platform, 1, owners={"incident_response": "irene"})
    model_versions(platform, 1, name="fraud")
    clock = Clock(platform)
    check(platform, [signal("data_drift", True, summary="Drift on churn")], at=T0)
    drain(platform)
    clock.advance(HOUR)
    check(platform, [signal("performance_drop", True, severity="critical")], at=T0 + HOUR)
    check(
        platform,
        [signal("data_drift", True)],
        at=T0 + HOUR,
        monitor="fraud",
        monitor_id="f" * 32,
        model="fraud",
    )
    drain(platform)
    by_model = {i.model: i for i in platform.incidents.list_incidents()}
    assert sorted(by_model) == ["churn", "fraud"]
    churn = platform.incidents.get_incident(by_model["churn"].id)
    assert churn.title == "Drift on churn" and churn.severity == "critical"  # the worst joined
    assert [(a.rule, a.joined_at) for a in churn.alerts] == [
        ("data_drift", T0),
        ("performance_drop", T0 + HOUR),
    ]
    assert churn.version == 1 and churn.opened_at == T0
    assert len(platform.outbox.follow(types=["incident.opened"]).events) == 2
    assert by_model["fraud"].owner is None


def test_people_acknowledge_note_and_resolve_an_incident(platform: Platform) -> None:
    model_versions(platform, 1, owners={"incident_response": "irene"})
    clock = Clock(platform)
    check(platform, [signal("data_drift", True)], at=T0)
    drain(platform)
    (incident,) = platform.incidents.list_incidents(state="unresolved")

    clock.advance(5 * 60_000)
    acked = platform.incidents.acknowledge(incident.id, comment="looking", actor="irene")
    assert (acked.state, acked.acknowledged_by, acked.acknowledged_at) == ("acknowledged", "irene", clock.now)
    with pytest.raises(Conflict, match="acknowledged already"):
        platform.incidents.acknowledge(incident.id, actor="mo")
    note = platform.incidents.add_note(incident.id, "upstream feed sent nulls since 02:00", actor="irene")
    assert (note.author, note.at) == ("irene", clock.now)
    with pytest.raises(InvalidParameter) as raised:
        platform.incidents.add_note(incident.id, " \n", actor="irene")
    assert raised.value.field == "text"

    # The alert resolving does not resolve the incident: only people do.
    check(platform, [signal("data_drift", False)], at=T0 + HOUR)
    drain(platform)
    assert platform.incidents.get_incident(incident.id).state == "acknowledged"
    assert platform.incidents.get_incident(incident.id).alerts[0].ends_at == T0 + HOUR

    clock.advance(HOUR)
    done = platform.incidents.resolve(incident.id, comment="feed fixed, backfilled", actor="irene")
    assert (done.state, done.resolved_by, done.resolved_at, done.resolution) == (
        "resolved",
        "irene",
        clock.now,
        "feed fixed, backfilled",
    )
    assert [n.text for n in done.notes] == ["looking", "upstream feed sent nulls since 02:00"]
    with pytest.raises(Conflict, match="resolved already"):
        platform.incidents.resolve(incident.id, actor="irene")
    with pytest.raises(Conflict):
        platform.incidents.acknowledge(incident.id, actor="irene")
    platform.incidents.add_note(incident.id, "post-mortem: add a null check", actor="mo")  # still allowed
    types = [
        e.type for e in platform.outbox.follow(types=["incident.acknowledged", "incident.resolved"]).events
    ]
    assert types == ["incident.acknowledged", "incident.resolved"]
    assert audit_actions(platform, incident.id) == [
        ("incident.open", "system"),
        ("incident.acknowledge", "irene"),
        ("incident.note", "irene"),
        ("incident.resolve", "irene"),
        ("incident.note", "mo"),
    ]
    assert platform.incidents.list_incidents(state="unresolved") == []
    assert [i.id for i in platform.incidents.list_incidents(state="resolved")] == [incident.id]

    # Fires again after the incident was resolved: a new incident.
    check(platform, [signal("data_drift", True)], at=T0 + 3 * HOUR)
    drain(platform)
    (reopened,) = platform.incidents.list_incidents(state="open")
    assert reopened.id != incident.id and [a.firing for a in reopened.alerts] == [2]


def test_unknown_incidents_and_bad_states(platform: Platform) -> None:
    with pytest.raises(NotFound):
        platform.incidents.get_incident("0" * 32)
    with pytest.raises(InvalidParameter):
        platform.incidents.acknowledge("nope", actor="x")
    with pytest.raises(InvalidParameter) as raised:
        platform.incidents.list_incidents(state="closed")
    assert raised.value.field == "state"
    with pytest.raises(InvalidParameter) as raised:
        platform.incidents.list_incidents(limit=0)
    assert raised.value.field == "limit"


def test_the_timeline_shows_what_changed_around_the_model(platform: Platform, tmp_path: Path) -> None:
    """Real times (the registry's, data's and gates' records are stamped by the wall clock)."""
    (tmp_path / "train.csv").write_text("x,y\n1,0\n2,1\n")
    platform.data.register("train", tmp_path / "train.csv", actor="ada")
    experiment = platform.tracking.get_or_create_experiment("churn", actor="ada")
    run = platform.tracking.create_run(experiment.id, actor="ada")
    platform.data.link_run(run.id, "train@1", direction="input", context="training", actor="ada")
    platform.tracking.log_artifact(run.id, "model/weights.bin", b"w1", actor="ada")
    platform.model_registry.register_version("churn", run_id=run.id, artifact_path="model", actor="ada")
    platform.model_registry.update_model("churn", owners={"monitoring": "mo"}, actor="ada")
    platform.model_registry.set_alias("churn", "production", 1, reason="first release", actor="ada")
    platform.gates.check("churn/1", POLICY, {"metrics": {"roc_auc": 0.7}}, actor="ci")

    check(platform, [signal("data_drift", True, 0.35)], at=now_ms())
    drain(platform)
    (incident,) = platform.incidents.list_incidents()
    (tmp_path / "train.csv").write_text("x,y\n1,0\n2,1\n3,1\n")
    platform.data.register("train", tmp_path / "train.csv", actor="dee")  # fresh data, after it opened
    platform.incidents.add_note(incident.id, "retraining on train@2", actor="mo")
    check(platform, [signal("data_drift", False, 0.1)], at=now_ms())
    drain(platform)
    platform.incidents.resolve(incident.id, comment="retrained", actor="mo")

    timeline = platform.incidents.timeline(incident.id)
    assert [e.at for e in timeline.entries] == sorted(e.at for e in timeline.entries)
    shown = [(e.kind, e.title) for e in timeline.entries]
    assert shown[0] == ("data_version", "train@1 registered")  # the data the version was trained on
    assert set(shown) >= {
        ("model_version", "churn v1 registered"),
        ("alias_moved", "churn@production → v1"),
        ("gate_decision", "Gates failed for churn v1 → production"),
        ("incident_opened", "Incident opened on churn"),
        ("alert_fired", "data_drift fired [warning]"),
        ("data_version", "train@2 registered"),
        ("note", "Note"),
        ("alert_resolved", "data_drift resolved [warning]"),
        ("incident_resolved", "Resolved"),
    }
    assert shown[-1] == ("incident_resolved", "Resolved")
    by_kind = {e.kind: e for e in timeline.entries}
    assert "first release" in by_kind["alias_moved"].detail and by_kind["alias_moved"].actor == "ada"
    assert "failed: auc" in by_kind["gate_decision"].detail and by_kind["gate_decision"].actor == "ci"
    assert by_kind["data_version"].actor == "dee" and by_kind["data_version"].ref == "dataset:train@2"
    assert by_kind["alert_fired"].ref.startswith("alert:") and "0.35" in by_kind["alert_fired"].detail
    assert (by_kind["note"].detail, by_kind["note"].actor) == ("retraining on train@2", "mo")
    assert by_kind["incident_resolved"].detail == "retrained"
    resolved = platform.incidents.get_incident(incident.id)
    assert (timeline.start, timeline.end) == (resolved.opened_at - 7 * 24 * HOUR, resolved.resolved_at)


def test_a_source_plugged_in_later_shows_on_the_timeline(platform: Platform) -> None:
    from plimsoll.incidents.entities import TimelineEntry

    model_versions(platform, 1)
    check(platform, [signal("data_drift", True)], at=now_ms())
    drain(platform)
    (incident,) = platform.incidents.list_incidents()
    platform.incidents.add_timeline_source(
        lambda found, start, end: [
            TimelineEntry(found.opened_at, "deployment", "canary at 10%", actor="rollout")
        ]
    )
    entries = platform.incidents.timeline(incident.id).entries
    assert [e.title for e in entries if e.kind == "deployment"] == ["canary at 10%"]


def test_alerts_and_incidents_are_lineage_nodes_of_the_model_version(platform: Platform) -> None:
    model_versions(platform, 2)
    check(platform, [signal("data_drift", True)], at=T0, version=2)
    drain(platform)
    (alert,) = platform.incidents.list_alerts()
    (incident,) = platform.incidents.list_incidents()
    downstream = platform.lineage.downstream("default", "model:churn/2")
    ids = {node.id for node in downstream.nodes}
    assert {f"alert:{alert.id}", f"incident:{incident.id}"} <= ids
    edges = {(e.source, e.target) for e in downstream.edges}
    assert ("model:churn/2", f"alert:{alert.id}") in edges
    assert (f"alert:{alert.id}", f"incident:{incident.id}") in edges
    assert ("model:churn/2", f"incident:{incident.id}") in edges
    node = next(n for n in downstream.nodes if n.id == f"incident:{incident.id}")
    assert node.label == "data_drift on churn" and node.attributes["severity"] == "warning"
