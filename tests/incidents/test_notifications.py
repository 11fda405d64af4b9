"""End to end through the platform's background (the outbox's `incidents` and `webhooks` work
consumers, the job worker), on SQLite and PostgreSQL: a monitor's check fires an alert that real
webhook subscriptions deliver to receivers on 127.0.0.1 as Alertmanager's v4 payload, a PagerDuty
Events v2 event and an email (aiosmtpd), then resolves it with the same dedup key; the platform's
own problems become critical alerts of a platform incident: a job that dies, a webhook whose
receiver is down (retried, then parked and visible), an audit log that does not verify."""

from __future__ import annotations

import email
import email.policy
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from incidents_support import T0, check, model_versions, signal, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "core" / "webhooks"))
from webhook_receiver import MailServer, Receiver, free_port, quick_webhooks

from plimsoll.core.audit import audit_events
from plimsoll.core.capability import Capability, JobKind
from plimsoll.core.jobs import JobState
from plimsoll.core.webhooks.entities import DeliveryState
from plimsoll.platform import Platform

KEY = "R0123456789abcdef0123456789ABCD"
DOOMED = "incidents_test.doomed"


def doomed(service: Any, payload: Any, context: Any) -> None:
    raise RuntimeError(f"the disk is full ({payload['n']})")


# A capability whose one job kind always fails, once: its job dies on the first attempt.
DOOMED_CAPABILITY = Capability(
    name="doomed", jobs=(JobKind(DOOMED, f"{__name__}:doomed", max_attempts=1, timeout_s=30),)
)


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    capabilities = [*quick_webhooks(max_attempts=2), DOOMED_CAPABILITY]
    platform = Platform(
        capabilities=capabilities,
        store_url=database_url,
        blobs_url=str(tmp_path / "blobs"),
        webhooks_allow_private=True,
        public_url="https://plimsoll.example.org",
    ).startup()
    background = platform.start_background()
    try:
        yield platform
    finally:
        background.stop()
        platform.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


def bodies(receiver: Receiver, path: str) -> list[dict[str, Any]]:
    return [orjson.loads(r.body) for r in receiver.requests if r.path.startswith(path)]


def test_a_firing_alert_reaches_alertmanager_pagerduty_and_email_then_resolves(
    running: Platform, receiver: Receiver
) -> None:
    platform = running
    model_versions(platform, 1, owners={"incident_response": "irene"})
    mail = MailServer()
    try:
        subscribe = platform.webhooks.create
        subscribe("am", receiver.url(path="/am"), ["alert.*"], format="alertmanager", actor="root")
        subscribe(
            "pd", receiver.url(path=f"/pd?routing_key={KEY}"), ["alert.*"], format="pagerduty", actor="root"
        )
        subscribe("mail", mail.url(), ["alert.*", "incident.opened"], format="email", actor="root")
        drift = signal("data_drift", True, 0.41, severity="critical", summary="Drift on churn v1")
        check(platform, [drift], at=T0)
        wait_for(
            lambda: len(bodies(receiver, "/am")) == 1 and len(bodies(receiver, "/pd")) == 1, what="firing"
        )
        (alert,) = platform.incidents.list_alerts()
        (manager,) = bodies(receiver, "/am")
        assert manager["version"] == "4" and manager["status"] == "firing" and manager["receiver"] == "am"
        (sent,) = manager["alerts"]
        assert sent["fingerprint"] == alert.fingerprint and sent["endsAt"] == "0001-01-01T00:00:00Z"
        assert sent["labels"]["alertname"] == "data_drift" and sent["labels"]["model"] == "churn"
        assert sent["generatorURL"] == f"https://plimsoll.example.org/alerts/{alert.id}"
        assert manager["groupLabels"] == {"alertname": "data_drift", "model": "churn", "version": "1"}
        (page,) = bodies(receiver, "/pd")
        assert page["routing_key"] == KEY and page["event_action"] == "trigger"
        assert page["dedup_key"] == alert.fingerprint and page["payload"]["severity"] == "critical"
        assert page["payload"]["source"] == "model:churn/1"
        wait_for(lambda: len(mail.messages) == 2, what="two emails: the alert and the incident")

        check(platform, [signal("data_drift", False, 0.1, severity="critical")], at=T0 + 3_600_000)
        wait_for(
            lambda: len(bodies(receiver, "/am")) == 2 and len(bodies(receiver, "/pd")) == 2, what="resolved"
        )
        resolved = bodies(receiver, "/am")[1]
        assert resolved["status"] == "resolved" and resolved["alerts"][0]["fingerprint"] == alert.fingerprint
        closing = bodies(receiver, "/pd")[1]
        assert (closing["event_action"], closing["dedup_key"]) == ("resolve", alert.fingerprint)
        wait_for(lambda: len(mail.messages) == 3, what="the resolved email")
        subjects = sorted(
            email.message_from_bytes(m.content, policy=email.policy.default)["Subject"] for m in mail.messages
        )
        assert subjects[0].startswith("[FIRING:critical] data_drift: Drift on churn v1")
        assert subjects[1].startswith("[INFO] incident.opened")
        assert subjects[2].startswith("[RESOLVED:critical] data_drift")
    finally:
        mail.stop()


def test_a_dead_job_is_a_critical_alert_of_a_platform_incident(running: Platform) -> None:
    platform = running
    job = platform.jobs.enqueue(DOOMED, {"n": 1})
    wait_for(lambda: platform.jobs.get(job.id).state == JobState.DEAD, what="the job dead")
    alert = wait_for(lambda: platform.incidents.list_alerts(platform=True), what="its alert")[0]
    assert (alert.rule, alert.severity, alert.state, alert.source) == (
        "job_dead_lettered",
        "critical",
        "firing",
        "jobs",
    )
    assert alert.project is None and alert.labels["job_kind"] == DOOMED
    assert "the disk is full (1)" in alert.annotations["description"]
    (incident,) = platform.incidents.list_incidents(platform=True)
    assert (incident.model, incident.project, incident.owner) == ("", None, None)
    assert platform.incidents.list_incidents() == []  # not a project's

    # The same kind dies again: the same alert, counted, not announced again.
    again = platform.jobs.enqueue(DOOMED, {"n": 2})
    wait_for(lambda: platform.jobs.get(again.id).state == JobState.DEAD, what="the second job dead")
    wait_for(lambda: platform.incidents.get_alert(alert.id).value == 2.0, what="the count")
    assert len(platform.outbox.follow(types=["alert.fired"]).events) == 1

    # A human resolves the incident: its platform alerts end with it.
    platform.incidents.resolve(incident.id, comment="disk cleaned, jobs retried", actor="root")
    assert platform.incidents.get_alert(alert.id).state == "resolved"
    (ended,) = platform.outbox.follow(types=["alert.resolved"]).events
    assert ended.payload["fingerprint"] == alert.fingerprint and ended.project is None


def test_a_webhook_whose_receiver_is_down_is_parked_visible_and_alerted(
    running: Platform, receiver: Receiver
) -> None:
    platform = running
    down = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens there
    dead_end = platform.webhooks.create("dead-end", down, ["webhook.tested"], actor="root")
    watcher = platform.webhooks.create(
        "am", receiver.url(path="/am"), ["alert.*"], format="alertmanager", actor="root"
    )
    platform.webhooks.test(dead_end.subscription.id, actor="root")
    wait_for(
        lambda: (
            [d.state for d in platform.webhooks.deliveries(dead_end.subscription.id)]
            == [DeliveryState.FAILED]
        ),
        what="the delivery parked after its retries",
    )
    (parked,) = platform.webhooks.deliveries(dead_end.subscription.id)
    assert parked.attempts == 2 and "127.0.0.1" in (parked.last_error or "")
    alert = wait_for(lambda: platform.incidents.list_alerts(platform=True), what="the alert")[0]
    assert (alert.rule, alert.labels["webhook"], alert.source) == (
        "webhook_delivery_parked",
        "dead-end",
        "webhooks",
    )
    # The healthy receiver hears of it; the dead job behind the parked delivery is not a second alert.
    wait_for(lambda: len(bodies(receiver, "/am")) == 1, what="the alert delivered elsewhere")
    assert bodies(receiver, "/am")[0]["alerts"][0]["labels"]["alertname"] == "webhook_delivery_parked"
    assert [a.rule for a in platform.incidents.list_alerts(platform=True)] == ["webhook_delivery_parked"]
    # Nothing of it went to the receiver that is down (it would only park again).
    assert [d.event_type for d in platform.webhooks.deliveries(dead_end.subscription.id)] == [
        "webhook.tested"
    ]
    assert len(platform.webhooks.deliveries(watcher.subscription.id)) == 1


def test_an_audit_log_that_does_not_verify_is_alerted(running: Platform) -> None:
    platform = running
    model_versions(platform, 1)  # something in the audit log
    with platform.db.write() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == 2).values(after='{"x":1}'))
    assert not platform.audit.verify_and_record().ok
    alert = wait_for(lambda: platform.incidents.list_alerts(platform=True), what="the alert")[0]
    assert (alert.rule, alert.source, alert.severity) == ("audit_verification_failed", "audit", "critical")
    assert "row 2" in alert.annotations["description"]
    resolved = platform.incidents.resolve_alert(alert.id, comment="restored from backup", actor="root")
    assert (
        resolved.state == "resolved" and resolved.history[-1].note == "resolved by root: restored from backup"
    )


def test_two_replicas_handle_each_check_once(database_url: str, tmp_path: Path) -> None:
    """Two servers' backgrounds on one database: the `incidents` consumer runs in work mode, so
    each check is turned into alerts once, and each firing is announced once, whichever replica
    holds the consumer's lease."""
    replicas = [
        Platform(store_url=database_url, blobs_url=str(tmp_path / "blobs")).startup() for _ in range(2)
    ]
    backgrounds = [replica.start_background() for replica in replicas]
    try:
        platform = replicas[0]
        model_versions(platform, 1)
        for number in range(12):
            monitor_id = f"{number:032x}"
            check(
                platform,
                [signal("data_drift", True)],
                at=T0 + number,
                monitor=f"m{number}",
                monitor_id=monitor_id,
            )
        wait_for(
            lambda: (
                len(platform.incidents.list_alerts(state="firing")) == 12
                and all(a.notified for a in platform.incidents.list_alerts())
            ),
            what="twelve alerts announced",
        )
        fired = platform.outbox.follow(types=["alert.fired"], limit=100).events
        assert len(fired) == 12 and len({e.payload["alert"] for e in fired}) == 12
        (incident,) = platform.incidents.list_incidents()
        assert len(platform.incidents.get_incident(incident.id).alerts) == 12
        assert len(platform.outbox.follow(types=["incident.opened"]).events) == 1
    finally:
        for background in backgrounds:
            background.stop()
        for replica in replicas:
            replica.close()
