"""Alert events reach real receivers on loopback through the platform's background (the outbox
consumer and the job worker), on both backends, in each alerting format: Alertmanager, PagerDuty
and Slack bodies POSTed to an HTTP receiver, email through a real SMTP server (aiosmtpd). The one
webhook path's guarantees hold for each: signed (HTTP), retried with backoff then failed and
visible, refused for private addresses, the routing key kept out of errors, jobs and the audit
log, a login sent over TLS only.

The events carry the monitoring contract's payload (docs/webhooks.md, "Alert events"), emitted
through a change as the monitoring capability will emit them, under the types the catalog
reserves (`alert.fired`, `alert.resolved`). `socket.getaddrinfo` and `certifi.where` (not ours)
are replaced where a test needs a DNS answer for a made-up name or a certificate authority of its
own."""

from __future__ import annotations

import email
import email.policy
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import certifi
import orjson
import pytest
from webhook_receiver import (
    MailServer,
    Receiver,
    fake_dns,
    free_port,
    make_platform,
    self_signed_certificate,
    wait_for,
)

from plimsoll.core import audit
from plimsoll.core.changes import changing
from plimsoll.core.config import SmtpLogin
from plimsoll.core.jobs import JobState
from plimsoll.core.webhooks import verify_signature
from plimsoll.core.webhooks.entities import Delivery, DeliveryState
from plimsoll.platform import Platform

KEY = "R0123456789abcdef0123456789ABCD"
ALERT = "0193f3c2a1b24c5d8e9f0a1b2c3d4e5f"
STARTS = 1_796_563_200_000


def alert(status: str, *, version: str = "3") -> dict[str, Any]:
    return {
        "alert": ALERT,
        "rule": "feature-drift",
        "status": status,
        "severity": "critical",
        "fingerprint": f"churn-{version}-feature-drift",
        "labels": {
            "alertname": "feature-drift",
            "model": "churn",
            "version": version,
            "severity": "critical",
        },
        "annotations": {
            "summary": "Feature drift on churn v3",
            "runbook_url": "https://runbooks.example.org/d",
        },
        "starts_at": STARTS,
        "ends_at": STARTS + 60_000 if status == "resolved" else None,
        "value": 0.4,
        "url": f"https://plimsoll.example.org/alerts/{ALERT}",
    }


def emit(platform: Platform, status: str) -> None:
    """One alert event, as the monitoring capability will emit it: `alert.fired` (the name the
    catalog reserves: event names are past tense, so `alert.firing` cannot be registered) or
    `alert.resolved`, with the contract's payload."""
    type = "alert.fired" if status == "firing" else "alert.resolved"
    with changing(platform.db, platform.outbox, "monitor") as change:
        change.emit(type, f"alert:{ALERT}", alert(status), project="default")


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """`running(allow_private=..., max_attempts=..., **settings)`: a platform with its background."""
    made: list[tuple[Platform, Any]] = []

    def start(*, allow_private: bool = True, max_attempts: int = 3, **settings: Any) -> Platform:
        platform = make_platform(
            database_url, tmp_path, allow_private=allow_private, max_attempts=max_attempts, **settings
        )
        made.append((platform, platform.start_background()))
        return platform

    try:
        yield start
    finally:
        for platform, background in made:
            background.stop()
            platform.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


def deliveries(platform: Platform, subscription_id: str, count: int, state: DeliveryState) -> list[Delivery]:
    """The subscription's deliveries once `count` of them are `state`, oldest first."""

    def done() -> bool:
        found = platform.webhooks.deliveries(subscription_id)
        return len(found) == count and all(d.state == state for d in found)

    wait_for(done, what=f"{count} deliveries {state.value}")
    return list(reversed(platform.webhooks.deliveries(subscription_id)))


def test_alertmanager_and_slack_receive_the_firing_then_the_resolved_alert(
    running: Any, receiver: Receiver
) -> None:
    platform = running()
    manager = platform.webhooks.create(
        "am", receiver.url(path="/am"), ["alert.*"], format="alertmanager", actor="root"
    )
    slack = platform.webhooks.create(
        "chat", receiver.url(path="/chat"), ["alert.*"], format="slack", actor="root"
    )
    emit(platform, "firing")
    deliveries(platform, manager.subscription.id, 1, DeliveryState.DELIVERED)
    emit(platform, "resolved")  # after: one aggregate's events are delivered in order anyway
    for created in (manager, slack):
        deliveries(platform, created.subscription.id, 2, DeliveryState.DELIVERED)
    by_path: dict[str, list[Any]] = {"/am": [], "/chat": []}
    for request in receiver.requests:
        assert request.headers["Content-Type"] == "application/json"
        secret = manager.secret if request.path == "/am" else slack.secret
        headers = request.headers
        assert verify_signature(
            secret,
            headers["X-Plimsoll-Timestamp"],
            request.body,
            headers["X-Plimsoll-Signature"],
            now=time.time(),
        )
        by_path[request.path].append(orjson.loads(request.body))
    firing, resolved = sorted(by_path["/am"], key=lambda body: body["status"])
    assert (firing["version"], firing["status"], resolved["status"]) == ("4", "firing", "resolved")
    assert firing["receiver"] == "am" and firing["groupKey"] == resolved["groupKey"]
    assert (
        firing["alerts"][0]["fingerprint"] == resolved["alerts"][0]["fingerprint"] == "churn-3-feature-drift"
    )
    assert firing["alerts"][0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert resolved["alerts"][0]["endsAt"] == "2026-12-06T13:21:00.000Z"
    texts = sorted(body["text"].splitlines()[0] for body in by_path["/chat"])
    assert texts == [
        ":rotating_light: [FIRING · critical] feature-drift: Feature drift on churn v3",
        ":white_check_mark: [RESOLVED · critical] feature-drift: Feature drift on churn v3",
    ]


def test_pagerduty_triggers_then_resolves_with_the_routing_key_from_the_url(
    running: Any, receiver: Receiver
) -> None:
    platform = running()
    url = receiver.url(path=f"/v2/enqueue?routing_key={KEY}")
    created = platform.webhooks.create("pd", url, ["alert.*"], format="pagerduty", actor="root")
    emit(platform, "firing")
    deliveries(platform, created.subscription.id, 1, DeliveryState.DELIVERED)
    emit(platform, "resolved")
    trigger, resolve = deliveries(platform, created.subscription.id, 2, DeliveryState.DELIVERED)
    assert (trigger.event_type, resolve.event_type) == ("alert.fired", "alert.resolved")
    bodies = {orjson.loads(r.body)["event_action"]: orjson.loads(r.body) for r in receiver.requests}
    # the key travels in the body only: not in the URL requested
    assert [r.path for r in receiver.requests] == ["/v2/enqueue", "/v2/enqueue"]
    assert bodies["trigger"]["routing_key"] == bodies["resolve"]["routing_key"] == KEY
    assert bodies["trigger"]["dedup_key"] == bodies["resolve"]["dedup_key"] == "churn-3-feature-drift"
    assert bodies["trigger"]["payload"]["severity"] == "critical"
    assert set(bodies["resolve"]) == {"routing_key", "event_action", "dedup_key"}
    # the subscription shows its URL to site admins; the audit log never holds the key
    assert platform.webhooks.get(created.subscription.id).url == url
    platform.webhooks.delete(created.subscription.id, actor="root")
    with platform.db.read() as conn:
        entries = audit.list_events(conn, resource_type="webhook", resource_id=created.subscription.id)
    assert [entry.action for entry in entries] == ["webhook.create", "webhook.delete"]
    assert entries[0].after["url"] == receiver.url(path="/v2/enqueue?routing_key=…")
    assert KEY not in orjson.dumps([(e.before, e.after) for e in entries]).decode()


def test_a_pagerduty_receiver_down_is_retried_then_the_delivery_fails_visibly(
    running: Any, receiver: Receiver
) -> None:
    platform = running(max_attempts=3)
    receiver.then = 503
    url = receiver.url(path=f"/v2/enqueue?routing_key={KEY}")
    created = platform.webhooks.create("pd-down", url, ["alert.fired"], format="pagerduty", actor="root")
    emit(platform, "firing")
    (delivery,) = deliveries(platform, created.subscription.id, 1, DeliveryState.FAILED)
    assert (delivery.attempts, delivery.last_status_code) == (3, 503)
    assert delivery.last_error is not None and "127.0.0.1 answered HTTP 503" in delivery.last_error
    wait_for(lambda: platform.jobs.get(delivery.job_id).state == JobState.DEAD, what="the job dead")
    job = platform.jobs.get(delivery.job_id)
    assert job.attempts == 3 and job.last_error is not None and "answered HTTP 503" in job.last_error
    assert KEY not in job.last_error + delivery.last_error + orjson.dumps(job.payload).decode()
    assert receiver.count() == 3


def message_of(content: bytes) -> EmailMessage:
    message = email.message_from_bytes(content, _class=EmailMessage, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_email_arrives_with_a_text_and_an_html_part(running: Any) -> None:
    server = MailServer()
    try:
        platform = running()
        url = server.url(to="oncall@example.org,ml@example.org")
        created = platform.webhooks.create("mail", url, ["alert.*"], format="email", actor="root")
        emit(platform, "firing")
        (delivery,) = deliveries(platform, created.subscription.id, 1, DeliveryState.DELIVERED)
        assert (delivery.attempts, delivery.last_status_code, delivery.last_error) == (1, 250, None)
        (mail,) = server.messages
        assert mail.mail_from == "plimsoll@example.org"
        assert mail.rcpt_tos == ["oncall@example.org", "ml@example.org"]
        message = message_of(mail.content)
        assert message["Subject"] == "[FIRING:critical] feature-drift: Feature drift on churn v3"
        assert (message["From"], message["To"]) == (
            "plimsoll@example.org",
            "oncall@example.org, ml@example.org",
        )
        assert message["X-Plimsoll-Event"] == "alert.fired"
        assert message["X-Plimsoll-Delivery"] == delivery.id
        assert message["Message-ID"] == f"<{delivery.id}.plimsoll@example.org>" and message["Date"]
        assert message.get_content_type() == "multipart/alternative"
        plain, html = message.iter_parts()
        assert (plain.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
        assert (
            "model: churn" in plain.get_content()
            and "Runbook: https://runbooks.example.org/d" in plain.get_content()
        )  # type: ignore[attr-defined]
        assert "<h2>feature-drift: Feature drift on churn v3</h2>" in html.get_content()  # type: ignore[attr-defined]
        # any other event is an info message: here the subscription's test event
        platform.webhooks.test(created.subscription.id, actor="root")
        deliveries(platform, created.subscription.id, 2, DeliveryState.DELIVERED)
        subject = message_of(server.messages[1].content)["Subject"]
        assert subject == f"[INFO] webhook.tested on webhook:{created.subscription.id}"
    finally:
        server.stop()


def test_a_mail_server_down_is_retried_then_the_delivery_fails_visibly(running: Any) -> None:
    platform = running(max_attempts=3)
    url = f"smtp://127.0.0.1:{free_port()}?to=oncall@example.org&from=plimsoll@example.org"
    created = platform.webhooks.create("mail-down", url, ["alert.fired"], format="email", actor="root")
    emit(platform, "firing")
    (delivery,) = deliveries(platform, created.subscription.id, 1, DeliveryState.FAILED)
    assert (delivery.attempts, delivery.last_status_code) == (3, None)
    assert delivery.last_error is not None and delivery.last_error.startswith("127.0.0.1 (127.0.0.1): ")
    assert "ConnectionRefusedError" in delivery.last_error and "oncall@" not in delivery.last_error
    wait_for(lambda: platform.jobs.get(delivery.job_id).state == JobState.DEAD, what="the job dead")
    assert platform.jobs.get(delivery.job_id).attempts == 3


def test_a_mail_host_resolving_to_loopback_is_refused_without_retrying(
    running: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = MailServer()
    try:
        platform = running(allow_private=False, max_attempts=3)
        lookups = fake_dns(monkeypatch, {"mail.internal.test": lambda: "127.0.0.1"})
        url = server.url(host="mail.internal.test")
        created = platform.webhooks.create("sneaky", url, ["alert.fired"], format="email", actor="root")
        emit(platform, "firing")
        (delivery,) = deliveries(platform, created.subscription.id, 1, DeliveryState.FAILED)
        assert delivery.attempts == 1 and delivery.last_error is not None
        assert delivery.last_error.startswith(
            "refused: mail.internal.test resolves to 127.0.0.1, a loopback address"
        )
        wait_for(lambda: platform.jobs.get(delivery.job_id).finished, what="the job finished")
        assert platform.jobs.get(delivery.job_id).state == JobState.SUCCEEDED  # ended: not retried
        assert server.messages == [] and lookups == ["mail.internal.test"]
    finally:
        server.stop()


def test_the_configured_login_is_used_over_starttls_at_its_host(
    running: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The server offers STARTTLS with a certificate for mail.example.test (trusted here through
    certifi, which the delivery asks for its authorities) and requires a login it offers only over
    TLS: the message arrives encrypted and signed in, to the address the name resolved to."""
    pem = self_signed_certificate(tmp_path, "mail.example.test")
    server = MailServer(tls=pem, logins={"alerts": "s3cret-pw"})
    try:
        monkeypatch.setattr(certifi, "where", lambda: str(pem))
        fake_dns(monkeypatch, {"mail.example.test": lambda: "127.0.0.1"})
        login = SmtpLogin(host="mail.example.test", username="alerts", password="s3cret-pw")
        platform = running(webhooks_smtp_login=login)
        url = server.url(host="mail.example.test")
        created = platform.webhooks.create("tls", url, ["alert.fired"], format="email", actor="root")
        emit(platform, "firing")
        deliveries(platform, created.subscription.id, 1, DeliveryState.DELIVERED)
        (mail,) = server.messages
        assert (mail.tls, mail.login) == (True, "alerts")
    finally:
        server.stop()


def test_a_login_is_never_sent_to_a_server_without_tls(running: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    server = MailServer(logins={"alerts": "s3cret-pw"})  # no STARTTLS offered
    try:
        fake_dns(monkeypatch, {"mail.example.test": lambda: "127.0.0.1"})
        login = SmtpLogin(host="mail.example.test", username="alerts", password="s3cret-pw")
        platform = running(max_attempts=1, webhooks_smtp_login=login)
        created = platform.webhooks.create(
            "clear", server.url(host="mail.example.test"), ["alert.fired"], format="email", actor="root"
        )
        emit(platform, "firing")
        (delivery,) = deliveries(platform, created.subscription.id, 1, DeliveryState.FAILED)
        assert delivery.last_error is not None and "offers no STARTTLS" in delivery.last_error
        assert "s3cret-pw" not in delivery.last_error and "s3cret-pw" not in repr(login)
        assert server.login_attempts == [] and server.messages == []
    finally:
        server.stop()
