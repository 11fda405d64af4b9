"""The platform's events that need a human, as their publishers publish them, on SQLite and
PostgreSQL: a job that dies (its last attempt failed, or its worker stopped heartbeating) is one
`job.dead_lettered` event in the transaction that marks it dead; a webhook delivery that fails for
good is one `webhook.delivery_parked` event; neither is sent back where it would only fail again."""

from __future__ import annotations

from typing import Any

from plimsoll.core.jobs import JobState
from plimsoll.core.webhooks.entities import DeliveryState, Subscription
from plimsoll.platform import Platform

KIND = "incidents_test.flaky"


def _dead_events(platform: Platform) -> list[Any]:
    return platform.outbox.follow(types=["job.dead_lettered"]).events


def test_a_job_that_fails_its_last_attempt_is_published_dead(platform: Platform) -> None:
    platform.jobs.registry.register(KIND, lambda payload, context: None, max_attempts=2)
    job = platform.jobs.enqueue(KIND, {"x": 1})
    (claim,) = platform.jobs.claim("w1", [KIND], 1, 30.0)
    assert platform.jobs.fail(claim.lease_token, "first") == JobState.QUEUED
    assert _dead_events(platform) == []  # a retry is not a dead letter
    platform.jobs.retry(job.id)  # run the queued retry now rather than after its backoff
    (claim,) = platform.jobs.claim("w1", [KIND], 1, 30.0)
    assert platform.jobs.fail(claim.lease_token, "second: the disk is full") == JobState.DEAD
    (event,) = _dead_events(platform)
    assert event.aggregate == f"job:{job.id}" and event.project is None and event.actor == "system"
    payload = event.payload
    assert (payload["job_id"], payload["kind"], payload["attempts"], payload["max_attempts"]) == (
        job.id,
        KIND,
        2,
        2,
    )
    assert payload["error"] == "second: the disk is full"


def test_a_job_whose_worker_died_on_its_last_attempt_is_published_dead(platform: Platform) -> None:
    platform.jobs.registry.register(KIND, lambda payload, context: None, max_attempts=1)
    now = [platform.jobs.clock()]
    platform.jobs.clock = lambda: now[0]
    job = platform.jobs.enqueue(KIND)
    platform.jobs.claim("w1", [KIND], 1, 1.0)  # a 1 s lease, never renewed
    now[0] += 5_000
    assert platform.jobs.claim("w2", [KIND], 1, 30.0) == []  # the claim reaps it: no attempt left
    assert platform.jobs.get(job.id).state == JobState.DEAD
    (event,) = _dead_events(platform)
    assert event.payload["job_id"] == job.id and "stopped heartbeating" in event.payload["error"]


def test_a_delivery_that_fails_for_good_is_published_parked_once(platform: Platform) -> None:
    down = platform.webhooks.create("down", "https://hooks.example.com/in", ["webhook.tested"], actor="root")
    platform.webhooks.test(down.subscription.id, actor="root")
    (tested,) = platform.outbox.follow(types=["webhook.tested"]).events
    platform.webhooks.on_event(tested)
    (delivery,) = platform.webhooks.deliveries(down.subscription.id)
    platform.webhooks.start_attempt(delivery.id, 1)
    platform.webhooks.record_failure(
        delivery.id, "hooks.example.com answered HTTP 503", status_code=503, final=False
    )
    assert platform.outbox.follow(types=["webhook.delivery_parked"]).events == []
    platform.webhooks.record_failure(
        delivery.id, "hooks.example.com answered HTTP 503", status_code=503, final=True
    )
    platform.webhooks.record_failure(delivery.id, "again", status_code=503, final=True)  # already parked
    (event,) = platform.outbox.follow(types=["webhook.delivery_parked"]).events
    assert event.payload == {
        "subscription_id": down.subscription.id,
        "subscription": "down",
        "delivery_id": delivery.id,
        "event_id": tested.id,
        "event_type": "webhook.tested",
        "attempts": 1,
        "error": "hooks.example.com answered HTTP 503",
        "parked_at": event.payload["parked_at"],
    }
    assert platform.webhooks.deliveries(down.subscription.id)[0].state == DeliveryState.FAILED


def test_what_would_only_fail_again_is_not_sent_back() -> None:
    everything = Subscription("a" * 32, "all", "https://h.example.com", ("*",), "plimsoll", True, 0, "root")
    parked_here = {"subscription_id": everything.id}
    parked_elsewhere = {"subscription_id": "b" * 32}
    assert not everything.wants("webhook.delivery_parked", 1, parked_here)
    assert everything.wants("webhook.delivery_parked", 1, parked_elsewhere)
    assert not everything.wants("job.dead_lettered", 1, {"kind": "webhooks.deliver"})
    assert everything.wants("job.dead_lettered", 1, {"kind": "reports.nightly"})
