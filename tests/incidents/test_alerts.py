"""The alert state machine on SQLite and PostgreSQL, driven by `monitor.checked` events published
through the platform's outbox: pending until `for_windows` windows in a row (and `for_s`), one
alert per fingerprint however often it is reported, resolved when the rule holds again, a new
firing of the same alert after that; an event handled twice changes nothing; an alias moved to
another version ends the old version's alerts; silences and inhibition hold back announcements
(never the state), and what they held is announced once they no longer do."""

from __future__ import annotations

from typing import Any

import pytest
from incidents_support import HOUR, MINUTE, T0, Clock, check, drain, model_versions, signal

from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.incidents.matchers import fingerprint
from plimsoll.platform import Platform


def events(platform: Platform, *types: str) -> list[Any]:
    return platform.outbox.follow(types=list(types), limit=1000).events


def the_alert(platform: Platform, rule: str = "data_drift", **filters: Any) -> Any:
    found = [a for a in platform.incidents.list_alerts(state=None, **filters) if a.rule == rule]
    inactive = [a for a in platform.incidents.list_alerts(state="inactive", **filters) if a.rule == rule]
    (alert,) = found + inactive
    return alert


@pytest.fixture
def churn(platform: Platform) -> Platform:
    model_versions(platform, 2, owners={"monitoring": "mo", "incident_response": "irene"})
    Clock(platform)
    return platform


def test_an_alert_waits_for_its_windows_fires_once_and_resolves(churn: Platform) -> None:
    platform = churn
    drift = lambda n, active=True, value=0.3: signal(  # noqa: E731
        "data_drift", active, value, consecutive=n, for_windows=3
    )
    check(platform, [drift(1), signal("no_data", False, 0.0)], at=T0)
    check(platform, [drift(2), signal("no_data", False, 0.0)], at=T0 + HOUR)
    drain(platform)
    alert = the_alert(platform)
    assert (alert.state, alert.firing, alert.consecutive) == ("pending", 0, 2)
    assert alert.active_since == T0 and alert.starts_at is None
    assert events(platform, "alert.fired") == []
    assert [a.rule for a in platform.incidents.list_alerts()] == ["data_drift"]  # no_data never active

    check(platform, [drift(3, value=0.41)], at=T0 + 2 * HOUR)
    check(platform, [drift(4, value=0.45)], at=T0 + 3 * HOUR)  # still firing: deduplicated
    drain(platform)
    alert = the_alert(platform)
    assert (alert.state, alert.firing, alert.value, alert.starts_at) == ("firing", 1, 0.45, T0 + 2 * HOUR)
    (fired,) = events(platform, "alert.fired")
    payload = fired.payload
    assert set(payload) == {
        "alert", "rule", "status", "severity", "fingerprint", "labels", "annotations",
        "starts_at", "ends_at", "value", "url",
    }  # fmt: skip
    assert (
        payload["status"] == "firing" and payload["starts_at"] == T0 + 2 * HOUR and payload["ends_at"] is None
    )
    assert payload["value"] == 0.41 and payload["fingerprint"] == alert.fingerprint
    assert payload["labels"] == {
        "alertname": "data_drift",
        "project": "default",
        "model": "churn",
        "alias": "production",
        "version": "1",
        "monitor": "churn-prod",
        "severity": "warning",
    }
    assert payload["annotations"]["runbook_url"] == "https://runbooks.example.org/data_drift"
    assert fired.aggregate == f"alert:{alert.id}" and fired.project == "default"

    check(platform, [drift(0, active=False, value=0.1)], at=T0 + 4 * HOUR)
    drain(platform)
    alert = platform.incidents.get_alert(alert.id)
    assert (alert.state, alert.ends_at) == ("resolved", T0 + 4 * HOUR)
    (resolved,) = events(platform, "alert.resolved")
    assert resolved.payload["status"] == "resolved" and resolved.payload["ends_at"] == T0 + 4 * HOUR
    assert resolved.payload["fingerprint"] == payload["fingerprint"]
    assert [(t.firing, t.state, t.at) for t in alert.history] == [
        (1, "pending", T0),
        (1, "firing", T0 + 2 * HOUR),
        (1, "resolved", T0 + 4 * HOUR),
    ]

    # Fires again: the same alert (one per fingerprint), its second firing, announced again.
    check(platform, [drift(3, value=0.5)], at=T0 + 5 * HOUR)
    drain(platform)
    again = platform.incidents.get_alert(alert.id)
    assert (again.state, again.firing, again.starts_at) == ("firing", 2, T0 + 5 * HOUR)
    assert [e.payload["alert"] for e in events(platform, "alert.fired")] == [alert.id, alert.id]
    assert [(t.firing, t.state) for t in again.history][-2:] == [(2, "pending"), (2, "firing")]


def test_for_s_holds_a_signal_pending_for_that_long(churn: Platform) -> None:
    platform = churn
    slow = lambda: signal("error_rate", True, 0.3, for_s=600)  # noqa: E731
    check(platform, [slow()], at=T0)
    check(platform, [slow()], at=T0 + 5 * MINUTE)
    drain(platform)
    assert the_alert(platform, "error_rate").state == "pending"
    check(platform, [slow()], at=T0 + 10 * MINUTE)
    drain(platform)
    alert = the_alert(platform, "error_rate")
    assert (alert.state, alert.starts_at, alert.active_since) == ("firing", T0 + 10 * MINUTE, T0)


def test_a_pending_alert_that_clears_is_inactive_and_never_announced(churn: Platform) -> None:
    platform = churn
    check(platform, [signal("data_drift", True, consecutive=1, for_windows=2)], at=T0)
    check(platform, [signal("data_drift", False, 0.1)], at=T0 + HOUR)
    drain(platform)
    assert platform.incidents.list_alerts() == []  # inactive ones are not listed by default
    (alert,) = platform.incidents.list_alerts(state="inactive")
    assert [t.state for t in platform.incidents.get_alert(alert.id).history] == ["pending", "inactive"]
    assert events(platform, "alert.fired", "alert.resolved", "incident.opened") == []


def test_an_event_handled_twice_changes_nothing(churn: Platform) -> None:
    platform = churn
    check(platform, [signal("data_drift", True)], at=T0)
    drain(platform)
    (event,) = platform.outbox.follow(types=["monitor.checked"]).events
    before = platform.incidents.get_alert(the_alert(platform).id)
    platform.incidents.on_event(event)  # at least once: the consumer may hand it over again
    assert platform.incidents.get_alert(before.id) == before
    assert len(events(platform, "alert.fired")) == 1 and len(platform.incidents.list_incidents()) == 1


def test_segments_and_labels_make_separate_alerts_with_stable_fingerprints(churn: Platform) -> None:
    platform = churn
    feature = lambda name: signal("feature_drift", True, labels={"feature": name, "model": "spoofed"})  # noqa: E731
    check(platform, [feature("tenure"), feature("plan")], at=T0, segment=("region", "eu"))
    check(platform, [feature("tenure")], at=T0, segment=("region", "us"))
    drain(platform)
    alerts = platform.incidents.list_alerts()
    assert len(alerts) == 3 and len({a.fingerprint for a in alerts}) == 3
    eu = next(a for a in alerts if a.segment_value == "eu" and a.labels["feature"] == "tenure")
    assert eu.labels["model"] == "churn"  # a rule's own label cannot override what identifies it
    assert eu.labels["segment_column"] == "region" and eu.fingerprint == fingerprint(eu.labels)
    assert fingerprint({**eu.labels, "severity": "critical"}) == eu.fingerprint  # severity is not identity
    # One incident for the model gathers them all.
    (incident,) = platform.incidents.list_incidents()
    assert len(platform.incidents.get_incident(incident.id).alerts) == 3


def test_an_alias_moved_to_another_version_ends_the_old_versions_alerts(churn: Platform) -> None:
    platform = churn
    check(platform, [signal("data_drift", True)], at=T0, version=1)
    check(platform, [signal("data_drift", True)], at=T0 + HOUR, version=2)
    drain(platform)
    alerts = {a.version: a for a in platform.incidents.list_alerts()}
    assert alerts[1].state == "resolved" and alerts[2].state == "firing"
    assert "alias moved" in platform.incidents.get_alert(alerts[1].id).history[-1].note
    assert [e.payload["labels"]["version"] for e in events(platform, "alert.resolved")] == ["1"]


def test_a_silence_holds_back_the_announcement_not_the_state(churn: Platform) -> None:
    platform = churn
    clock = Clock(platform)
    silence = platform.incidents.create_silence(
        ["alertname=~data_.*", "model=churn"], duration_s=3600, comment="backfill running", actor="ada"
    )
    assert silence.starts_at == clock.now and silence.ends_at == clock.now + HOUR
    check(platform, [signal("data_drift", True), signal("label_coverage", True)], at=T0)
    drain(platform)
    drift, coverage = the_alert(platform), the_alert(platform, "label_coverage")
    assert drift.state == "firing" and drift.silenced_by == (silence.id,) and not drift.notified
    assert coverage.silenced_by == () and coverage.notified
    assert [e.payload["rule"] for e in events(platform, "alert.fired")] == ["label_coverage"]
    (incident,) = platform.incidents.list_incidents()
    assert [a.rule for a in platform.incidents.get_incident(incident.id).alerts] == ["label_coverage"]

    clock.advance(10 * MINUTE)
    platform.incidents.expire_silence(silence.id, actor="ada")  # what it held is announced now
    assert [e.payload["rule"] for e in events(platform, "alert.fired")] == ["label_coverage", "data_drift"]
    drift = platform.incidents.get_alert(drift.id)
    assert drift.notified and drift.silenced_by == () and drift.incident == incident.id
    ended = platform.incidents.get_silence(silence.id)
    assert (ended.expired_by, ended.ends_at, ended.state(clock.now)) == ("ada", clock.now, "expired")
    with pytest.raises(Conflict, match="ended already"):
        platform.incidents.expire_silence(silence.id, actor="ada")


def test_a_silence_that_ends_by_itself_lets_the_sweep_announce(churn: Platform) -> None:
    platform = churn
    clock = Clock(platform)
    platform.incidents.create_silence(
        ["monitor=churn-prod"], duration_s=600, comment="deploying", actor="ada"
    )
    check(platform, [signal("data_drift", True)], at=T0)
    drain(platform)
    assert platform.incidents.sweep() == 0 and events(platform, "alert.fired") == []
    assert [s.state(clock.now) for s in platform.incidents.list_silences(state="active")] == ["active"]
    clock.advance(11 * MINUTE)
    assert platform.incidents.list_silences(state="active") == []
    assert platform.incidents.sweep() == 1
    assert len(events(platform, "alert.fired")) == 1 and len(platform.incidents.list_incidents()) == 1
    assert platform.incidents.sweep() == 0


def test_a_resolved_firing_that_was_never_announced_is_not_announced_resolved(churn: Platform) -> None:
    platform = churn
    platform.incidents.create_silence(["alertname=data_drift"], duration_s=3600, comment="known", actor="ada")
    check(platform, [signal("data_drift", True)], at=T0)
    check(platform, [signal("data_drift", False)], at=T0 + HOUR)
    drain(platform)
    assert the_alert(platform).state == "resolved"
    assert events(platform, "alert.fired", "alert.resolved", "incident.opened") == []


def test_no_data_inhibits_the_other_alerts_of_its_monitor_and_segment(churn: Platform) -> None:
    platform = churn
    check(
        platform,
        [signal("no_data", True, 0.0, severity="critical"), signal("data_drift", True)],
        at=T0,
        segment=("region", "eu"),
    )
    check(platform, [signal("data_drift", True)], at=T0, segment=("region", "us"))
    drain(platform)
    alerts = {(a.rule, a.segment_value): a for a in platform.incidents.list_alerts()}
    no_data, eu, us = alerts["no_data", "eu"], alerts["data_drift", "eu"], alerts["data_drift", "us"]
    assert eu.inhibited_by == no_data.id and not eu.notified
    assert us.inhibited_by is None and us.notified  # another segment: not explained by it
    assert no_data.inhibited_by is None and no_data.notified  # an alert never mutes itself
    announced = sorted(
        (e.payload["rule"], e.payload["labels"]["segment_value"]) for e in events(platform, "alert.fired")
    )
    assert announced == [("data_drift", "us"), ("no_data", "eu")]

    # The data is back: no_data resolves, and the drift it explained is announced now.
    check(
        platform,
        [signal("no_data", False, 100.0), signal("data_drift", True)],
        at=T0 + HOUR,
        segment=("region", "eu"),
    )
    drain(platform)
    eu = platform.incidents.get_alert(eu.id)
    assert eu.notified and eu.inhibited_by is None and eu.state == "firing"
    assert ("data_drift", "eu") in [
        (e.payload["rule"], e.payload["labels"]["segment_value"]) for e in events(platform, "alert.fired")
    ]


def test_inhibition_rules_of_a_project(churn: Platform) -> None:
    platform = churn
    rule = platform.incidents.create_inhibition(
        ["alertname=performance_drop", "severity=critical"],
        ["severity=warning"],
        equal=["model", "alias"],
        comment="a critical drop explains the warnings",
        actor="root",
    )
    listed = platform.incidents.list_inhibitions()
    assert [r.id for r in listed] == ["default", rule.id] and listed[0].builtin
    check(
        platform, [signal("performance_drop", True, severity="critical"), signal("data_drift", True)], at=T0
    )
    check(
        platform,
        [signal("data_drift", True)],
        at=T0,
        monitor="fraud-prod",
        monitor_id="f" * 32,
        model="fraud",
    )
    drain(platform)
    churn_drift = the_alert(platform, "data_drift", model="churn")
    fraud_drift = the_alert(platform, "data_drift", model="fraud")
    assert churn_drift.inhibited_by == the_alert(platform, "performance_drop").id
    assert fraud_drift.inhibited_by is None  # another model: the equal labels differ
    platform.incidents.delete_inhibition(rule.id, actor="root")  # what it held is announced
    assert platform.incidents.get_alert(churn_drift.id).notified
    with pytest.raises(Conflict, match="cannot be deleted"):
        platform.incidents.delete_inhibition("default", actor="root")
    with pytest.raises(NotFound):
        platform.incidents.delete_inhibition(rule.id, actor="root")


@pytest.mark.parametrize(
    ("matchers", "field", "message"),
    [
        ([], "matchers", "at least one matcher"),
        (["model=~.*"], "matchers", "would match every alert"),
        (["model!=churn"], "matchers", "would match every alert"),
        (["model"], "matchers[0]", "is not a matcher"),
        (["1model=churn"], "matchers[0]", "is not a matcher"),
        (["alertname=~(a+)+"], "matchers[0].value", "backtrack"),
        (["alertname=~(x"], "matchers[0].value", "not a regular expression"),
        ([{"name": "model", "op": "~", "value": "x"}], "matchers[0].op", "must be one of"),
        ([{"name": "model", "value": "x", "extra": 1}], "matchers[0].extra", "not a field"),
        (["model=" + "x" * 1001], "matchers[0].value", "the limit is 1000"),
        ("model=churn", "matchers", "must be a list"),
    ],
)
def test_bad_silences_are_refused_naming_the_field(
    churn: Platform, matchers: Any, field: str, message: str
) -> None:
    with pytest.raises(InvalidParameter, match=message) as raised:
        churn.incidents.create_silence(matchers, duration_s=60, comment="x", actor="ada")
    assert raised.value.field == field
    assert churn.incidents.list_silences() == []


def test_a_silence_needs_a_reason_a_length_and_a_project_that_exists(churn: Platform) -> None:
    incidents = churn.incidents
    with pytest.raises(InvalidParameter, match="must not be empty") as raised:
        incidents.create_silence(["model=churn"], duration_s=60, comment="  ", actor="ada")
    assert raised.value.field == "comment"
    with pytest.raises(InvalidParameter) as raised:
        incidents.create_silence(["model=churn"], duration_s=0, comment="x", actor="ada")
    assert raised.value.field == "duration_s"
    with pytest.raises(NotFound):
        incidents.create_silence(["model=churn"], duration_s=60, comment="x", project="nowhere", actor="ada")
    with pytest.raises(InvalidParameter) as raised:
        incidents.list_alerts(state="burning")
    assert raised.value.field == "state"
    with pytest.raises(InvalidParameter) as raised:
        incidents.get_alert("not-an-id")
    assert raised.value.field == "alert_id"
    with pytest.raises(NotFound):
        incidents.get_alert("0" * 32)
