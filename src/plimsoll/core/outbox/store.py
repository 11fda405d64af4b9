"""Outbox tables and every SQL statement of the outbox (the rules are in `service.py`).

    outbox_events     one row per event, written in the transaction of the change it describes
    outbox_consumers  one durable cursor per work consumer, with its lease and its retry state
    outbox_parked     events a consumer gave up on after its retries, until replayed

Ids: on SQLite `AUTOINCREMENT`, so an id is never handed out twice (not even after the newest
rows were pruned) and, with one writer at a time, ids are in commit order. On PostgreSQL a
sequence (cache 1, so values are increasing in the order `nextval` ran); a transaction takes its
xid (`pg_current_xact_id()`) before the sequence value, which the no-skip rule relies on (see
`entities.plan`).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    String,
    Table,
    Text,
    and_,
    bindparam,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from plimsoll.core.db import DriverStatement, metadata
from plimsoll.core.outbox.entities import ConsumerState, Cursor, Event, ParkedEvent

_ID = Integer().with_variant(BigInteger(), "postgresql")

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("type", String(128), nullable=False),
    Column("aggregate", String(256), nullable=False),
    Column("project", String(128), nullable=True),
    Column("actor", String(256), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", BigInteger, nullable=False, index=True),
    # The writing transaction (PostgreSQL's xid8, as a number); NULL on SQLite. For diagnostics.
    Column("txid", BigInteger, nullable=True),
    sqlite_autoincrement=True,
)

outbox_consumers = Table(
    "outbox_consumers",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("gap_below", BigInteger, nullable=True),
    Column("gap_xid", BigInteger, nullable=True),
    Column("owner", String(128), nullable=True),
    Column("lease_until", BigInteger, nullable=False),
    Column("retry_event", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("retry_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

outbox_parked = Table(
    "outbox_parked",
    metadata,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", BigInteger, primary_key=True),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("parked_at", BigInteger, nullable=False),
    # "parked", or "replay" once a replay was asked for; a runner claims it until claimed_until.
    Column("status", String(16), nullable=False),
    Column("claimed_until", BigInteger, nullable=False),
)

TABLES = (outbox_events, outbox_consumers, outbox_parked)

AGGREGATE_LOCK_CLASS = zlib.crc32(b"plimsoll-outbox") & 0x7FFFFFFF


def _pg(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


def insert_events(conn: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert in the caller's transaction; the new ids, in the order of `rows`.

    PostgreSQL: first one transaction-scoped lock per aggregate (sorted: two appenders never wait
    on each other in opposite orders), so that events of one aggregate take their ids in commit
    order; then the xid, so that it is assigned before any id is (see `entities.plan`)."""
    txid = None
    if _pg(conn):
        for aggregate in sorted({row["aggregate"] for row in rows}):
            conn.execute(
                text("SELECT pg_advisory_xact_lock(:cls, hashtext(:aggregate))"),
                {"cls": AGGREGATE_LOCK_CLASS, "aggregate": aggregate},
            )
        txid = new_xid(conn)
    else:
        # SQLite: this transaction holds the write lock, so AUTOINCREMENT hands the rows
        # consecutive ids ending at the last one inserted. On the driver's cursor: a run's end on
        # the synchronous path appends one event, and SQLAlchemy's RETURNING machinery cost more
        # than the insert.
        _INSERT_EVENTS.executemany(conn, [{**row, "txid": None} for row in rows])
        last = int(_LAST_ROWID.execute(conn, {})[0][0])
        return list(range(last - len(rows) + 1, last + 1))
    stmt = insert(outbox_events).returning(outbox_events.c.id, sort_by_parameter_order=True)
    result = conn.execute(stmt, [{**row, "txid": txid} for row in rows])
    return [int(row_id) for row_id in result.scalars()]


_INSERT_EVENTS = DriverStatement(lambda _conn: insert(outbox_events))
_LAST_ROWID = DriverStatement(lambda _conn: select(func.last_insert_rowid()))


def snapshot_xmin(conn: Connection) -> int | None:
    """The xmin of the caller's snapshot (PostgreSQL; REPEATABLE READ, so one for the whole
    transaction, taken by this statement when it is the first); None on SQLite."""
    if not _pg(conn):
        return None
    return int(conn.execute(text("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")).scalar_one())


def new_xid(conn: Connection) -> int:
    """The caller's xid, taken now if it has none: newer than every xid already handed out."""
    return int(conn.execute(text("SELECT pg_current_xact_id()::text")).scalar_one())


# Every consumer round runs it, a range scan of the primary key that returns dozens of events: on
# the driver's cursor, the columns in the order of Event's fields, each row one Event(*row).
_e = outbox_events.c
_READ_EVENTS = DriverStatement(
    lambda _conn: (
        select(_e.id, _e.type, _e.aggregate, _e.project, _e.actor, _e.payload, _e.created_at)
        .where(_e.id > bindparam("after"))
        .order_by(_e.id)
        .limit(bindparam("limit"))
    )
)


def read_events(conn: Connection, after: int, limit: int) -> list[Event]:
    """Visible events with id > `after`, in id order."""
    return [Event(*row) for row in _READ_EVENTS.execute(conn, {"after": after, "limit": limit})]


def events_by_id(conn: Connection, ids: Sequence[int]) -> dict[int, Event]:
    if not ids:
        return {}
    rows = conn.execute(select(outbox_events).where(outbox_events.c.id.in_(list(ids))))
    return {int(row.id): _event(row) for row in rows}


def max_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.coalesce(func.max(outbox_events.c.id), 0))).scalar_one())


def _event(row: Any) -> Event:
    return Event(
        id=int(row.id),
        type=row.type,
        aggregate=row.aggregate,
        project=row.project,
        actor=row.actor,
        payload_json=row.payload,
        created_at=int(row.created_at),
    )


# Consumers

_c = outbox_consumers.c
_p = outbox_parked.c


def ensure_consumer(conn: Connection, name: str, position: int, now: int) -> None:
    if conn.execute(select(_c.name).where(_c.name == name)).first() is None:
        row = {"name": name, "position": position, "lease_until": 0, "attempts": 0, "retry_at": 0}
        conn.execute(insert(outbox_consumers).values(**row, updated_at=now))


def remove_consumer(conn: Connection, name: str) -> bool:
    conn.execute(delete(outbox_parked).where(_p.consumer == name))
    return conn.execute(delete(outbox_consumers).where(_c.name == name)).rowcount == 1


def take_lease(conn: Connection, name: str, owner: str, now: int, lease_ms: int) -> ConsumerState | None:
    """The consumer's state if `owner` holds (or now took) its lease; None if another replica does."""
    free = or_(_c.owner == owner, _c.owner.is_(None), _c.lease_until < now)
    stmt = (
        update(outbox_consumers).where(_c.name == name, free).values(owner=owner, lease_until=now + lease_ms)
    )
    return consumer_state(conn, name) if conn.execute(stmt).rowcount == 1 else None


def consumer_state(conn: Connection, name: str) -> ConsumerState | None:
    row = conn.execute(select(outbox_consumers).where(_c.name == name)).first()
    if row is None:
        return None
    cursor = Cursor(int(row.position), row.gap_below, row.gap_xid)
    return ConsumerState(
        row.name,
        cursor,
        row.owner,
        int(row.lease_until),
        row.retry_event,
        int(row.attempts),
        int(row.retry_at),
    )


def save_consumer(conn: Connection, state: ConsumerState, owner: str, now: int, lease_ms: int) -> bool:
    """Store the new position and retry state, renewing the lease; False if `owner` lost it."""
    cursor = state.cursor
    stmt = (
        update(outbox_consumers)
        .where(_c.name == state.name, _c.owner == owner)
        .values(position=cursor.position, gap_below=cursor.gap_below, gap_xid=cursor.gap_xid)
        .values(retry_event=state.retry_event, attempts=state.attempts, retry_at=state.retry_at)
        .values(lease_until=now + lease_ms, updated_at=now)
    )
    return conn.execute(stmt).rowcount == 1


def release_lease(conn: Connection, name: str, owner: str) -> None:
    stmt = update(outbox_consumers).where(_c.name == name, _c.owner == owner)
    conn.execute(stmt.values(owner=None, lease_until=0))


def list_consumers(conn: Connection) -> list[ConsumerState]:
    names = list(conn.execute(select(_c.name).order_by(_c.name)).scalars())
    return [state for name in names if (state := consumer_state(conn, name)) is not None]


def min_position(conn: Connection) -> int | None:
    value = conn.execute(select(func.min(_c.position))).scalar_one()
    return None if value is None else int(value)


# Parked events


def park(conn: Connection, item: ParkedEvent) -> None:
    conn.execute(delete(outbox_parked).where(_p.consumer == item.consumer, _p.event_id == item.event_id))
    row = {"consumer": item.consumer, "event_id": item.event_id, "attempts": item.attempts}
    values = {"last_error": item.last_error, "parked_at": item.parked_at, "status": "parked"}
    conn.execute(insert(outbox_parked).values(**row, **values, claimed_until=0))


def list_parked(conn: Connection, consumer: str | None) -> list[ParkedEvent]:
    query = select(outbox_parked).order_by(_p.consumer, _p.event_id)
    if consumer is not None:
        query = query.where(_p.consumer == consumer)
    return [
        ParkedEvent(r.consumer, int(r.event_id), int(r.attempts), r.last_error, int(r.parked_at), r.status)
        for r in conn.execute(query)
    ]


def request_replay(conn: Connection, consumer: str, event_ids: Sequence[int] | None) -> int:
    query = update(outbox_parked).where(_p.consumer == consumer, _p.status == "parked")
    if event_ids is not None:
        query = query.where(_p.event_id.in_(list(event_ids)))
    return int(conn.execute(query.values(status="replay", claimed_until=0)).rowcount)


def _due(consumer: str, now: int) -> Any:
    return and_(_p.consumer == consumer, _p.status == "replay", _p.claimed_until < now)


def due_replays(conn: Connection, consumer: str, now: int, limit: int) -> list[int]:
    """Event ids of `consumer` whose replay was asked for and that no one has claimed."""
    query = select(_p.event_id).where(_due(consumer, now)).order_by(_p.event_id).limit(limit)
    return [int(event_id) for event_id in conn.execute(query).scalars()]


def claim_replays(conn: Connection, consumer: str, now: int, claim_ms: int, limit: int) -> list[int]:
    """Due replays, each claimed by this caller until now+claim_ms (unless another claimed it first)."""
    claimed = []
    for event_id in due_replays(conn, consumer, now, limit):
        stmt = update(outbox_parked).where(_due(consumer, now), _p.event_id == event_id)
        if conn.execute(stmt.values(claimed_until=now + claim_ms)).rowcount == 1:
            claimed.append(event_id)
    return claimed


def unpark(conn: Connection, consumer: str, event_id: int) -> None:
    conn.execute(delete(outbox_parked).where(_p.consumer == consumer, _p.event_id == event_id))


def repark(conn: Connection, consumer: str, event_id: int, error: str, now: int) -> None:
    stmt = update(outbox_parked).where(_p.consumer == consumer, _p.event_id == event_id)
    values = {"attempts": _p.attempts + 1, "last_error": error, "parked_at": now}
    conn.execute(stmt.values(**values, status="parked", claimed_until=0))


# Retention


def prune(conn: Connection, created_before: int, max_id: int | None) -> int:
    """Delete events created before `created_before` with id <= `max_id` (None: no bound), except
    those a consumer parked."""
    e = outbox_events.c
    query = delete(outbox_events).where(e.created_at < created_before, ~e.id.in_(select(_p.event_id)))
    if max_id is not None:
        query = query.where(e.id <= max_id)
    return int(conn.execute(query).rowcount)
