"""Webhook subscriptions: the rules, once. What the API, the SDK and the CLI call; the event
consumer (`on_event`) that turns each matching event into a delivery job; and the bookkeeping the
delivery job (`delivery.deliver`) records each attempt with.

The path of an event: the outbox's work consumer `webhooks` calls `on_event`; for each active
subscription that wants the event it inserts, in one transaction, a delivery row and a job of kind
`webhooks.deliver` with the dedupe key `webhook:<subscription>:<event>` (the consumer delivers at
least once: a second sight of the event finds the row and adds nothing). A worker then runs the job.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

import orjson

from plimsoll.core.audit import AuditEntry
from plimsoll.core.capability import Parts
from plimsoll.core.changes import changing
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.jobs import JobService
from plimsoll.core.outbox import Event, NewEvent
from plimsoll.core.validation import check_id, check_int, check_name
from plimsoll.core.webhooks import store
from plimsoll.core.webhooks.entities import (
    DELIVER_JOB,
    PARKED_EVENT,
    TESTED_EVENT,
    Delivery,
    DeliveryState,
    NewSubscription,
    Subscription,
    check_patterns,
)
from plimsoll.core.webhooks.formats import audited_url, check_format, check_target
from plimsoll.core.webhooks.signatures import new_secret

MAX_ERROR_LENGTH = 2000
MAX_DELIVERIES_PAGE = 1000
MAX_WEBHOOK_NAME_LENGTH = 128  # the column's width


@dataclass(frozen=True)
class PendingDelivery:
    """What one delivery attempt needs: the delivery, its subscription, the secret, the event."""

    delivery: Delivery
    subscription: Subscription
    secret: str
    event: Event


class WebhookService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.jobs: JobService = parts.services["jobs"]
        self.allow_private = parts.settings.webhooks_allow_private
        self.smtp_login = parts.settings.webhooks_smtp_login  # email webhooks' login, if any
        self.public_url = parts.settings.public_url  # the formats' links back to Plimsoll
        # The subscriptions as read for the consumer's current batch (read_subscriptions).
        self._subscriptions: builtins.list[Subscription] | None = None

    # --- what users call ------------------------------------------------------------------

    def create(
        self, name: str, url: str, events: list[str], format: str = "plimsoll", *, actor: str
    ) -> NewSubscription:
        """A new subscription and its signing secret: the only time the secret is shown."""
        check_name("name", name, max_length=MAX_WEBHOOK_NAME_LENGTH)
        format = check_format(format)
        url = check_target(format, url, allow_private=self.allow_private)
        patterns = check_patterns(events, [t["name"] for t in self.events.catalog.list()])
        subscription = Subscription(
            id=new_id(),
            name=name,
            url=url,
            events=patterns,
            format=format,
            active=True,
            created_at=now_ms(),
            created_by=actor,
        )
        secret = new_secret()
        with changing(self.db, self.events, actor) as change:
            if store.name_taken(change.conn, name):
                raise Conflict(f"a webhook named {name!r} exists already")
            store.insert_subscription(change.conn, subscription, secret)
            # The audit entry describes the subscription, never its secret, nor the credentials
            # its URL may carry for the format (PagerDuty's routing key).
            change.audit(
                AuditEntry(
                    actor, "webhook.create", "webhook", subscription.id, None, None, _audited(subscription)
                )
            )
        return NewSubscription(subscription, secret)

    def list(self) -> list[Subscription]:
        with self.db.read() as conn:
            return store.list_subscriptions(conn)

    def get(self, subscription_id: str) -> Subscription:
        with self.db.read() as conn:
            return self._require(conn, subscription_id)

    def delete(self, subscription_id: str, *, actor: str) -> Subscription:
        """Remove a subscription, its secret and its delivery history; deliveries still queued
        find nothing to send and end at once."""
        with changing(self.db, self.events, actor) as change:
            subscription = self._require(change.conn, subscription_id)
            store.delete_subscription(change.conn, subscription.id)
            change.audit(
                AuditEntry(
                    actor, "webhook.delete", "webhook", subscription.id, None, _audited(subscription), None
                )
            )
        return subscription

    def test(self, subscription_id: str, *, actor: str) -> int:
        """Publish a `webhook.tested` event for this subscription through the outbox, so that it
        takes the path every event takes (consumer, job, worker); the event's id. Its delivery
        shows in `deliveries` once the consumer has seen it."""
        with changing(self.db, self.events, actor) as change:
            subscription = self._require(change.conn, subscription_id)
            payload = {"subscription_id": subscription.id}
            change.emit(TESTED_EVENT, f"webhook:{subscription.id}", payload, project=None)
        return change.event_ids[0]

    def deliveries(self, subscription_id: str, limit: int = 100) -> builtins.list[Delivery]:
        """The subscription's deliveries, newest first."""
        check_int("limit", limit, minimum=1, maximum=MAX_DELIVERIES_PAGE)
        with self.db.read() as conn:
            subscription = self._require(conn, subscription_id)
            return store.list_deliveries(conn, subscription.id, limit)

    # --- the event consumer ---------------------------------------------------------------

    def read_subscriptions(self) -> None:
        """Read the subscriptions once for the batch of events the consumer is about to hand
        `on_event` (they were committed before this read, so every subscription that could want
        one of them is seen)."""
        with self.db.read() as conn:
            self._subscriptions = store.list_subscriptions(conn)

    def on_event(self, event: Event) -> None:
        """Queue one delivery per subscription that wants `event`. Idempotent by `event.id`."""
        subscriptions = self._subscriptions
        if subscriptions is None:  # called outside the consumer's batches
            with self.db.read() as conn:
                subscriptions = store.list_subscriptions(conn)
        if not subscriptions:
            return
        payload = event.payload
        wanting = [s for s in subscriptions if s.wants(event.type, event.created_at, payload)]
        if not wanting:
            return
        event_json = orjson.dumps(event.to_dict()).decode()
        with self.db.write() as conn:
            for subscription in wanting:
                if store.delivery_exists(conn, subscription.id, event.id):
                    continue
                delivery_id = new_id()
                job_id = self.jobs.enqueue_in(
                    conn,
                    DELIVER_JOB,
                    {"delivery_id": delivery_id},
                    dedupe_key=f"webhook:{subscription.id}:{event.id}",
                )
                delivery = Delivery(
                    id=delivery_id,
                    subscription_id=subscription.id,
                    event_id=event.id,
                    event_type=event.type,
                    job_id=job_id,
                    state=DeliveryState.PENDING,
                    attempts=0,
                    last_status_code=None,
                    last_error=None,
                    created_at=now_ms(),
                    last_attempt_at=None,
                    delivered_at=None,
                )
                store.insert_delivery(conn, delivery, event_json)
        self.jobs.wake_workers()

    # --- what the delivery job records ----------------------------------------------------

    def start_attempt(self, delivery_id: str, attempt: int) -> PendingDelivery | None:
        """Count an attempt and return what it needs; None when there is nothing to send (the
        subscription was deleted, or the delivery succeeded already). A failed delivery is pending
        again: its job was retried by hand (`jobs retry`)."""
        with self.db.write() as conn:
            found = store.get_delivery(conn, delivery_id)
            if found is None or found[0].state == DeliveryState.DELIVERED:
                return None
            delivery, event_json = found
            subscription = store.get_subscription(conn, delivery.subscription_id)
            secret = store.secret_of(conn, delivery.subscription_id)
            if subscription is None or secret is None:
                return None
            values = {"state": DeliveryState.PENDING.value, "attempts": attempt, "last_attempt_at": now_ms()}
            store.update_delivery(conn, delivery_id, values)
        return PendingDelivery(delivery, subscription, secret, _event(event_json))

    def record_delivered(self, delivery_id: str, status_code: int, *, note: str | None = None) -> None:
        """Delivered; `note` is what the receiver said was not (a mail server that refused some
        recipients while it took the others), kept as the last error."""
        values = {"state": DeliveryState.DELIVERED.value, "last_status_code": status_code, "last_error": note}
        with self.db.write() as conn:
            store.update_delivery(conn, delivery_id, {**values, "delivered_at": now_ms()})

    def record_failure(self, delivery_id: str, error: str, *, status_code: int | None, final: bool) -> None:
        """A failed attempt; `final` when no attempt is left (or none is worth making): the
        delivery is parked (`failed`), and `webhook.delivery_parked` published with it."""
        values: dict[str, Any] = {"last_status_code": status_code, "last_error": error[:MAX_ERROR_LENGTH]}
        if final:
            values["state"] = DeliveryState.FAILED.value
        with self.db.write() as conn:
            found = store.get_delivery(conn, delivery_id) if final else None
            store.update_delivery(conn, delivery_id, values)
            if found is not None and found[0].state != DeliveryState.FAILED:
                self._publish_parked(conn, found[0], values["last_error"])

    def _publish_parked(self, conn: Connection, delivery: Delivery, error: str) -> None:
        subscription = store.get_subscription(conn, delivery.subscription_id)
        if subscription is None or PARKED_EVENT not in self.events.catalog:
            return
        payload = {
            "subscription_id": subscription.id,
            "subscription": subscription.name,
            "delivery_id": delivery.id,
            "event_id": delivery.event_id,
            "event_type": delivery.event_type,
            "attempts": delivery.attempts,
            "error": error,
            "parked_at": now_ms(),
        }
        event = NewEvent(PARKED_EVENT, f"webhook:{subscription.id}", payload, "system")
        self.events.append(conn, [event])

    # --- helpers --------------------------------------------------------------------------

    @staticmethod
    def _require(conn: Connection, subscription_id: str) -> Subscription:
        check_id("webhook_id", subscription_id)
        subscription = store.get_subscription(conn, subscription_id)
        if subscription is None:
            raise NotFound(f"webhook {subscription_id!r} not found")
        return subscription


def _audited(subscription: Subscription) -> dict[str, Any]:
    return {**subscription.to_dict(), "url": audited_url(subscription.format, subscription.url)}


def _event(event_json: str) -> Event:
    body = orjson.loads(event_json)
    if not isinstance(body, dict):
        raise InvalidParameter("event_json", "is not an event")
    return Event(
        id=body["id"],
        type=body["type"],
        aggregate=body["aggregate"],
        project=body["project"],
        actor=body["actor"],
        payload_json=orjson.dumps(body["payload"]).decode(),
        created_at=body["created_at"],
    )
