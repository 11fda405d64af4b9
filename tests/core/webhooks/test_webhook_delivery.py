"""Events reach a real HTTP receiver on loopback through the platform's background (the outbox
consumer and the job worker), on both backends: signed, retried with backoff, failed after the
last attempt, refused for private addresses, and sent to the address that was checked.

`socket.getaddrinfo` (not ours) is replaced where a test needs a DNS answer for a made-up name;
every other name still resolves for real."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from webhook_receiver import Receiver, fake_dns, make_platform, self_signed_certificate, wait_for

from plimsoll.core.jobs import JobState
from plimsoll.core.webhooks import verify_signature
from plimsoll.core.webhooks.entities import Delivery, DeliveryState
from plimsoll.platform import Platform


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def running(database_url: str, tmp_path: Path) -> Iterator[Any]:
    """`running(allow_private=...)`: a platform with its background started, both stopped after."""
    made: list[tuple[Platform, Any]] = []

    def start(*, allow_private: bool = True, max_attempts: int = 3) -> Platform:
        platform = make_platform(
            database_url, tmp_path, allow_private=allow_private, max_attempts=max_attempts
        )
        made.append((platform, platform.start_background()))
        return platform

    try:
        yield start
    finally:
        for platform, background in made:
            background.stop()
            platform.close()


def only_delivery(platform: Platform, subscription_id: str, state: DeliveryState) -> Delivery:
    def ended() -> bool:
        deliveries = platform.webhooks.deliveries(subscription_id)
        return len(deliveries) == 1 and deliveries[0].state == state

    wait_for(ended, what=f"one delivery {state.value}")
    (delivery,) = platform.webhooks.deliveries(subscription_id)
    return delivery  # type: ignore[no-any-return]


def test_an_event_reaches_the_receiver_signed(running: Any, receiver: Receiver) -> None:
    platform = running()
    created = platform.webhooks.create("ci", receiver.url(), ["experiment.*"], actor="root")
    platform.tracking.create_experiment("churn", actor="ada")
    delivery = only_delivery(platform, created.subscription.id, DeliveryState.DELIVERED)
    (request,) = receiver.requests
    headers = request.headers
    assert request.path == "/hook"
    assert headers["Content-Type"] == "application/json"
    assert headers["User-Agent"] == "plimsoll-webhooks"
    assert headers["X-Plimsoll-Event"] == "experiment.created"
    assert headers["X-Plimsoll-Delivery"] == delivery.id
    assert verify_signature(
        created.secret,
        headers["X-Plimsoll-Timestamp"],
        request.body,
        headers["X-Plimsoll-Signature"],
        now=time.time(),
    )
    (event,) = [e for e in platform.outbox.follow().events if e.type == "experiment.created"]
    assert orjson.loads(request.body) == event.to_dict()
    assert event.payload["name"] == "churn"
    assert (delivery.attempts, delivery.last_status_code, delivery.event_id) == (1, 200, event.id)
    assert delivery.delivered_at is not None and delivery.last_error is None


def test_a_test_event_goes_to_the_subscription_tested_only(running: Any, receiver: Receiver) -> None:
    platform = running()
    tested = platform.webhooks.create("tested", receiver.url(path="/tested"), ["run.*"], actor="root")
    everything = platform.webhooks.create("everything", receiver.url(path="/all"), ["*"], actor="root")
    event_id = platform.webhooks.test(tested.subscription.id, actor="root")
    delivery = only_delivery(platform, tested.subscription.id, DeliveryState.DELIVERED)
    assert (delivery.event_id, delivery.event_type) == (event_id, "webhook.tested")
    (request,) = receiver.requests
    assert request.path == "/tested" and request.headers["X-Plimsoll-Event"] == "webhook.tested"
    assert orjson.loads(request.body)["payload"] == {"subscription_id": tested.subscription.id}
    assert platform.webhooks.deliveries(everything.subscription.id) == []


def test_retried_until_the_receiver_answers_2xx(running: Any, receiver: Receiver) -> None:
    platform = running(max_attempts=3)
    receiver.statuses.extend([500, 500])
    created = platform.webhooks.create("flaky", receiver.url(), ["experiment.created"], actor="root")
    platform.tracking.create_experiment("e", actor="ada")
    delivery = only_delivery(platform, created.subscription.id, DeliveryState.DELIVERED)
    assert (delivery.attempts, delivery.last_status_code) == (3, 200)
    assert len({r.headers["X-Plimsoll-Delivery"] for r in receiver.requests}) == 1
    assert receiver.count() == 3
    # The delivery row is written inside the handler; the job is marked done just after it returns.
    wait_for(
        lambda: platform.jobs.get(delivery.job_id).state == JobState.SUCCEEDED,
        what="the job succeeded",
    )


def test_a_receiver_always_failing_ends_failed(running: Any, receiver: Receiver) -> None:
    platform = running(max_attempts=3)
    receiver.then = 503
    url = receiver.url(path="/hook?token=s3cret")  # a receiver's token: kept out of errors
    created = platform.webhooks.create("down", url, ["experiment.created"], actor="root")
    platform.tracking.create_experiment("e", actor="ada")
    delivery = only_delivery(platform, created.subscription.id, DeliveryState.FAILED)
    assert (delivery.attempts, delivery.last_status_code) == (3, 503)
    assert (
        delivery.last_error is not None
        and "answered HTTP 503: the receiver is unhappy" in delivery.last_error
    )
    assert delivery.last_error.endswith("(truncated)") and delivery.delivered_at is None
    wait_for(lambda: platform.jobs.get(delivery.job_id).state == JobState.DEAD, what="the job dead")
    job = platform.jobs.get(delivery.job_id)
    assert job.last_error is not None and "answered HTTP 503" in job.last_error
    assert "s3cret" not in job.last_error + delivery.last_error + str(job.payload)
    assert receiver.count() == 3 and receiver.requests[0].path == "/hook?token=s3cret"
    # The receiver is back: retrying the dead job by hand delivers it.
    receiver.then = 200
    platform.jobs.retry(delivery.job_id)
    again = only_delivery(platform, created.subscription.id, DeliveryState.DELIVERED)
    assert (again.id, again.attempts, again.last_status_code) == (delivery.id, 1, 200)


def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_retrying(
    running: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = running(allow_private=False, max_attempts=3)
    lookups = fake_dns(monkeypatch, {"internal.example.test": lambda: "127.0.0.1"})
    url = receiver.url(host="internal.example.test")
    created = platform.webhooks.create("sneaky", url, ["experiment.created"], actor="root")
    platform.tracking.create_experiment("e", actor="ada")
    delivery = only_delivery(platform, created.subscription.id, DeliveryState.FAILED)
    assert delivery.attempts == 1 and delivery.last_status_code is None
    assert delivery.last_error is not None and delivery.last_error.startswith(
        "refused: internal.example.test"
    )
    assert "127.0.0.1, a loopback address" in delivery.last_error
    assert "PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE" in delivery.last_error
    wait_for(lambda: platform.jobs.get(delivery.job_id).finished, what="the job finished")
    job = platform.jobs.get(delivery.job_id)
    assert (job.state, job.attempts) == (JobState.SUCCEEDED, 1)  # ended at once: not retried
    assert receiver.count() == 0 and lookups == ["internal.example.test"]


def test_the_connection_goes_to_the_address_checked(
    running: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: right after answering the check, the name answers another address (a
    TEST-NET one nobody listens on); the request still reaches the receiver, since it connects to
    the address checked. The receiver puts the first answer back for the next attempt."""
    platform = running(max_attempts=3)
    dns = {"now": "127.0.0.1"}

    def answer() -> str:
        current, dns["now"] = dns["now"], "203.0.113.7"
        return current

    lookups = fake_dns(monkeypatch, {"rebind.example.test": answer})
    receiver.on_request = lambda _: dns.update(now="127.0.0.1")
    receiver.statuses.append(500)  # two attempts: one lookup each
    url = receiver.url(host="rebind.example.test")
    created = platform.webhooks.create("pinned", url, ["experiment.created"], actor="root")
    platform.tracking.create_experiment("e", actor="ada")
    delivery = only_delivery(platform, created.subscription.id, DeliveryState.DELIVERED)
    assert delivery.attempts == 2 and receiver.count() == 2
    assert lookups == ["rebind.example.test"] * 2
    assert {r.headers["Host"] for r in receiver.requests} == {f"rebind.example.test:{receiver.port}"}


def test_https_goes_to_the_address_checked_with_the_host_name_verified(
    running: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Over TLS the connection to the pinned address still names the subscriber's host (SNI) and
    verifies the certificate for it: a self-signed one fails the attempt (retryable, so with one
    attempt the delivery fails), and nothing is posted."""
    platform = running(max_attempts=1)
    receiver = Receiver(tls=self_signed_certificate(tmp_path, "tls.example.test"))
    try:
        fake_dns(monkeypatch, {"tls.example.test": lambda: "127.0.0.1"})
        url = f"https://tls.example.test:{receiver.port}/hook"
        created = platform.webhooks.create("tls", url, ["experiment.created"], actor="root")
        platform.tracking.create_experiment("e", actor="ada")
        delivery = only_delivery(platform, created.subscription.id, DeliveryState.FAILED)
        assert delivery.last_error is not None and "CERTIFICATE_VERIFY_FAILED" in delivery.last_error
        assert (
            delivery.last_error.startswith("tls.example.test (127.0.0.1): ")
            and "/hook" not in delivery.last_error
        )
        assert receiver.server_names == ["tls.example.test"] and receiver.count() == 0
    finally:
        receiver.stop()
