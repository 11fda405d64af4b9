"""The webhook tables and every SQL statement on them; the rules live in service.py.

The signing secret is a column of `webhook_subscriptions` (it is needed to sign), read by
`secret_of` alone: no listing selects it. A delivery keeps the event it carries (`event_json`),
so that retries do not depend on how long the outbox keeps its events, and so that the event
never sits in the job's payload, which every viewer of the jobs page can read.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    select,
    update,
)

from plimsoll.core.db import metadata
from plimsoll.core.webhooks.entities import Delivery, DeliveryState, Subscription

webhook_subscriptions = Table(
    "webhook_subscriptions",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("url", String(2048), nullable=False),
    Column("events", Text, nullable=False),  # a JSON list of patterns
    Column("format", String(64), nullable=False),
    Column("secret", String(128), nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("subscription_id", String(32), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("event_type", String(128), nullable=False),
    Column("event_json", Text, nullable=False),
    Column("job_id", String(32), nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_status_code", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("last_attempt_at", BigInteger, nullable=True),
    Column("delivered_at", BigInteger, nullable=True),
    # One delivery per event and subscription, however often the consumer sees the event.
    UniqueConstraint("subscription_id", "event_id"),
    # A subscription's deliveries, newest first (ids are time-ordered).
    Index("ix_webhook_deliveries_subscription_id_id", "subscription_id", "id"),
)

TABLES = (webhook_subscriptions, webhook_deliveries)

_PUBLIC_COLUMNS = [column for column in webhook_subscriptions.c if column.name != "secret"]
_DELIVERY_COLUMNS = [column for column in webhook_deliveries.c if column.name != "event_json"]


def insert_subscription(conn: Connection, subscription: Subscription, secret: str) -> None:
    values = {**subscription.to_dict(), "events": orjson.dumps(list(subscription.events)).decode()}
    conn.execute(webhook_subscriptions.insert().values(**values, secret=secret))


def name_taken(conn: Connection, name: str) -> bool:
    query = select(webhook_subscriptions.c.id).where(webhook_subscriptions.c.name == name)
    return conn.execute(query).first() is not None


def get_subscription(conn: Connection, subscription_id: str) -> Subscription | None:
    query = select(*_PUBLIC_COLUMNS).where(webhook_subscriptions.c.id == subscription_id)
    row = conn.execute(query).first()
    return None if row is None else _subscription(row)


def list_subscriptions(conn: Connection, *, active_only: bool = False) -> list[Subscription]:
    query = select(*_PUBLIC_COLUMNS).order_by(webhook_subscriptions.c.name)
    if active_only:
        query = query.where(webhook_subscriptions.c.active.is_(True))
    return [_subscription(row) for row in conn.execute(query)]


def secret_of(conn: Connection, subscription_id: str) -> str | None:
    query = select(webhook_subscriptions.c.secret).where(webhook_subscriptions.c.id == subscription_id)
    value = conn.execute(query).scalar_one_or_none()
    return None if value is None else str(value)


def delete_subscription(conn: Connection, subscription_id: str) -> None:
    conn.execute(delete(webhook_deliveries).where(webhook_deliveries.c.subscription_id == subscription_id))
    conn.execute(delete(webhook_subscriptions).where(webhook_subscriptions.c.id == subscription_id))


def delivery_exists(conn: Connection, subscription_id: str, event_id: int) -> bool:
    query = select(webhook_deliveries.c.id).where(
        webhook_deliveries.c.subscription_id == subscription_id, webhook_deliveries.c.event_id == event_id
    )
    return conn.execute(query).first() is not None


def insert_delivery(conn: Connection, delivery: Delivery, event_json: str) -> None:
    conn.execute(webhook_deliveries.insert().values(**delivery.to_dict(), event_json=event_json))


def get_delivery(conn: Connection, delivery_id: str) -> tuple[Delivery, str] | None:
    """A delivery and the event it carries (as JSON)."""
    query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    row = conn.execute(query).first()
    return None if row is None else (_delivery(row), str(row.event_json))


def list_deliveries(conn: Connection, subscription_id: str, limit: int) -> list[Delivery]:
    query = (
        select(*_DELIVERY_COLUMNS)
        .where(webhook_deliveries.c.subscription_id == subscription_id)
        .order_by(webhook_deliveries.c.id.desc())
        .limit(limit)
    )
    return [_delivery(row) for row in conn.execute(query)]


def update_delivery(conn: Connection, delivery_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id).values(**values))


def _subscription(row: Row[Any]) -> Subscription:
    return Subscription(
        id=row.id,
        name=row.name,
        url=row.url,
        events=tuple(orjson.loads(row.events)),
        format=row.format,
        active=bool(row.active),
        created_at=int(row.created_at),
        created_by=row.created_by,
    )


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        subscription_id=row.subscription_id,
        event_id=int(row.event_id),
        event_type=row.event_type,
        job_id=row.job_id,
        state=DeliveryState(row.state),
        attempts=int(row.attempts),
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        created_at=int(row.created_at),
        last_attempt_at=row.last_attempt_at,
        delivered_at=row.delivered_at,
    )
