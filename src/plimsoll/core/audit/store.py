"""The audit log's table and SQL: append-only, hash-chained of every state change: who, what, when, before → after.

Each event's hash covers the previous event's hash and the event's own canonical JSON, so any
edit, deletion or reordering of stored events breaks `verify_chain`. Events are written in the
same transaction as the change they describe: both land, or neither does.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from blake3 import blake3
from sqlalchemy import BigInteger, Column, Connection, Integer, String, Table, Text, select, text

from plimsoll.core.audit.entities import AuditEntry, AuditEvent
from plimsoll.core.db import DriverStatement, metadata
from plimsoll.core.ids import now_ms

audit_events = Table(
    "audit_events",
    metadata,
    Column("seq", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("ts", BigInteger, nullable=False),
    Column("actor", String(256), nullable=False),
    Column("action", String(128), nullable=False),
    Column("resource_type", String(64), nullable=False),
    Column("resource_id", String(256), nullable=False),
    Column("project", String(256), nullable=True),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False, unique=True),
)

TABLES = (audit_events,)

GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = zlib.crc32(b"plimsoll-audit-chain")


def _digest(prev_hash: str, body: dict[str, Any]) -> str:
    return blake3(prev_hash.encode() + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _dump(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


# Every write runs these, the SDK's ingest included: compiled once, run on the driver's cursor.
_HEAD_HASH = DriverStatement(
    lambda _conn: select(audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
)
_APPEND = DriverStatement(lambda _conn: audit_events.insert())


def record(conn: Connection, entries: list[AuditEntry]) -> str | None:
    """Append events inside the caller's transaction; return the new head hash."""
    if not entries:
        return None
    if conn.dialect.name == "postgresql":
        # Serialise appenders across server replicas; released at commit.
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    head = _HEAD_HASH.execute(conn, {})
    prev_hash = head[0][0] if head else GENESIS_HASH
    ts = now_ms()
    rows = []
    for entry in entries:
        body = {
            "ts": ts,
            "actor": entry.actor,
            "action": entry.action,
            "resource_type": entry.resource_type,
            "resource_id": entry.resource_id,
            "project": entry.project,
            "before": _dump(entry.before),
            "after": _dump(entry.after),
        }
        digest = _digest(prev_hash, body)
        rows.append({**body, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    _APPEND.executemany(conn, rows)
    return prev_hash


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        ts=row.ts,
        actor=row.actor,
        action=row.action,
        resource_type=row.resource_type,
        resource_id=row.resource_id,
        project=row.project,
        before=None if row.before is None else orjson.loads(row.before),
        after=None if row.after is None else orjson.loads(row.after),
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def list_events(
    conn: Connection,
    *,
    resource_type: str | None = None,
    resource_id: str | None = None,
    after_seq: int = 0,
    limit: int = 1000,
) -> list[AuditEvent]:
    query = select(audit_events).where(audit_events.c.seq > after_seq)
    if resource_type is not None:
        query = query.where(audit_events.c.resource_type == resource_type)
    if resource_id is not None:
        query = query.where(audit_events.c.resource_id == resource_id)
    rows = conn.execute(query.order_by(audit_events.c.seq).limit(limit))
    return [_event(row) for row in rows]


def verify_chain(conn: Connection) -> tuple[bool, int | None]:
    """Walk the whole chain; return (intact, seq of the first broken event or None)."""
    prev_hash = GENESIS_HASH
    rows = conn.execute(select(audit_events).order_by(audit_events.c.seq))
    for row in rows:
        body = {
            "ts": row.ts,
            "actor": row.actor,
            "action": row.action,
            "resource_type": row.resource_type,
            "resource_id": row.resource_id,
            "project": row.project,
            "before": row.before,
            "after": row.after,
        }
        if row.prev_hash != prev_hash or _digest(prev_hash, body) != row.hash:
            return False, int(row.seq)
        prev_hash = row.hash
    return True, None
