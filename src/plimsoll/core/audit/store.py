"""The audit log's tables and SQL: the append-only, hash-chained events of every state change (who,
what, when, before → after), the signed checkpoints, and the outcomes of verifications.

Each event's hash covers the previous event's hash and the event's own canonical JSON
(`chain.py`); a process that holds the audit key (`keys.py`, set on the engine by `use_keyring`)
also signs each event's hash. Events are written in the same transaction as the change they
describe: both land, or neither does.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Integer,
    String,
    Table,
    Text,
    delete,
    func,
    insert,
    select,
    text,
)

from plimsoll.core.audit.chain import GENESIS_HASH, body_of, digest
from plimsoll.core.audit.entities import AuditEntry, AuditEvent, AuditStatus, Checkpoint, Verification
from plimsoll.core.audit.keys import Keyring
from plimsoll.core.db import Database, DriverStatement, metadata
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
    # The HMAC of `hash` under the audit key `key_id`: null for events written before the log was
    # signed, or by a process without the key (verification then says so).
    Column("key_id", String(16), nullable=True),
    Column("mac", String(64), nullable=True),
)

audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("signature", String(64), nullable=False),
)

audit_verifications = Table(
    "audit_verifications",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("started_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("rows_checked", BigInteger, nullable=False),
    Column("first_bad_seq", BigInteger, nullable=True),
    Column("checkpoint_id", BigInteger, nullable=True),
    Column("problem", Text, nullable=True),
)

TABLES = (audit_events, audit_checkpoints, audit_verifications)

_CHAIN_LOCK_KEY = zlib.crc32(b"plimsoll-audit-chain")
# The execution option under which a Database's engine carries the key ring its writers sign with.
_KEYRING_OPTION = "plimsoll_audit_keyring"


def use_keyring(db: Database, keyring: Keyring) -> None:
    """Sign every event `db`'s connections append with `keyring`'s signing key. Set on the engine,
    so that every writer (the services' changes, auth's own appends, the SDK's ingest) signs
    without being handed the key."""
    db.engine.update_execution_options(**{_KEYRING_OPTION: keyring})


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
    keyring: Keyring | None = conn.get_execution_options().get(_KEYRING_OPTION)
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
        event_hash = digest(prev_hash, body)
        key_id, mac = keyring.sign_row(event_hash) if keyring is not None else (None, None)
        rows.append({**body, "prev_hash": prev_hash, "hash": event_hash, "key_id": key_id, "mac": mac})
        prev_hash = event_hash
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
    """Walk the whole chain, without keys; return (intact, seq of the first broken event or None).
    Only what anyone could recompute: `AuditService.verify` checks what the key proves."""
    prev_hash = GENESIS_HASH
    rows = conn.execute(select(audit_events).order_by(audit_events.c.seq))
    for row in rows:
        if row.prev_hash != prev_hash or digest(prev_hash, body_of(row)) != row.hash:
            return False, int(row.seq)
        prev_hash = row.hash
    return True, None


# -- verification ------------------------------------------------------------------------------


def rows_after(conn: Connection, after_seq: int, limit: int) -> Sequence[Any]:
    """Stored events (raw: `before`/`after` as their JSON text) after `after_seq`, in order."""
    query = select(audit_events).where(audit_events.c.seq > after_seq).order_by(audit_events.c.seq)
    return conn.execute(query.limit(limit)).all()


def row_count(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())


def head(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(
        select(audit_events.c.seq, audit_events.c.hash).order_by(audit_events.c.seq.desc()).limit(1)
    ).first()
    return None if row is None else (int(row.seq), row.hash)


def hash_at(conn: Connection, seq: int) -> str | None:
    found: str | None = conn.execute(select(audit_events.c.hash).where(audit_events.c.seq == seq)).scalar()
    return found


def has_signed_rows(conn: Connection) -> bool:
    return (
        conn.execute(select(audit_events.c.seq).where(audit_events.c.mac.is_not(None)).limit(1)).first()
        is not None
    )


def last_signer(conn: Connection) -> str | None:
    """The key id of the newest signed event."""
    found: str | None = conn.execute(
        select(audit_events.c.key_id)
        .where(audit_events.c.key_id.is_not(None))
        .order_by(audit_events.c.seq.desc())
        .limit(1)
    ).scalar()
    return found


def checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq, audit_checkpoints.c.id))
    return [
        Checkpoint(
            id=int(row.id),
            seq=int(row.seq),
            hash=row.hash,
            created_at=int(row.created_at),
            key_id=row.key_id,
            signature=row.signature,
        )
        for row in rows
    ]


def add_checkpoint(conn: Connection, keyring: Keyring, seq: int, event_hash: str) -> None:
    created_at = now_ms()
    key_id, signature = keyring.sign_checkpoint(seq, event_hash, created_at)
    conn.execute(
        insert(audit_checkpoints).values(
            seq=seq, hash=event_hash, created_at=created_at, key_id=key_id, signature=signature
        )
    )


def record_verification(conn: Connection, outcome: Verification) -> None:
    conn.execute(
        insert(audit_verifications).values(
            started_at=outcome.started_at,
            finished_at=outcome.finished_at,
            ok=outcome.ok,
            rows_checked=outcome.rows_checked,
            first_bad_seq=outcome.first_bad_seq,
            checkpoint_id=outcome.checkpoint_id,
            problem=outcome.problem,
        )
    )


def status(conn: Connection) -> AuditStatus:
    last = conn.execute(
        select(audit_verifications.c.ok, audit_verifications.c.finished_at)
        .order_by(audit_verifications.c.id.desc())
        .limit(1)
    ).first()
    failures = conn.execute(
        select(func.count()).select_from(audit_verifications).where(audit_verifications.c.ok.is_(False))
    ).scalar_one()
    count = conn.execute(select(func.count()).select_from(audit_checkpoints)).scalar_one()
    return AuditStatus(
        last_ok=None if last is None else bool(last.ok),
        last_finished_at=None if last is None else int(last.finished_at),
        failures=int(failures),
        checkpoints=int(count),
    )


def prune_verifications(conn: Connection, before: int, *, dry_run: bool) -> int:
    """Forget successful verifications that finished before `before`; failures are kept (they are
    what `/metrics` counts)."""
    old = (audit_verifications.c.ok.is_(True)) & (audit_verifications.c.finished_at < before)
    if dry_run:
        return int(
            conn.execute(select(func.count()).select_from(audit_verifications).where(old)).scalar_one()
        )
    return int(conn.execute(delete(audit_verifications).where(old)).rowcount)
