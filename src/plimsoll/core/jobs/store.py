"""The job queue's tables and every SQL statement on them; the rules live in service.py.

Claiming reads candidates and marks them running inside one write transaction. On PostgreSQL
the candidates are read `FOR UPDATE SKIP LOCKED`, so claimers on several replicas take disjoint
rows without waiting for each other; on SQLite `Database.write()` is `BEGIN IMMEDIATE`, which
already makes claimers take turns. A per-key concurrency limit is a count of the key's running jobs, and on PostgreSQL
that count is only trusted under a transaction-scoped advisory lock on the key (two claimers
counting at once would both see room for one more).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    text,
    update,
)

from plimsoll.core.db import metadata, upsert
from plimsoll.core.jobs.entities import Job, JobState, Schedule

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("run_after", BigInteger, nullable=False),
    Column("timeout_ms", BigInteger, nullable=False),
    Column("concurrency_key", String(256), nullable=True),
    Column("concurrency_limit", Integer, nullable=True),
    Column("dedupe_key", String(256), nullable=True, unique=True),
    Column("lease_owner", String(128), nullable=True),
    # Renewals and outcomes find their job by token: unique, so indexed.
    Column("lease_token", String(32), nullable=True, unique=True),
    Column("lease_expires_at", BigInteger, nullable=True),
    Column("heartbeat_at", BigInteger, nullable=True),
    Column("cancel_requested", Boolean, nullable=False),
    Column("progress", Text, nullable=True),
    Column("result", Text, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("started_at", BigInteger, nullable=True),
    Column("finished_at", BigInteger, nullable=True),
    # Claiming (queued, due) and reaping (running, lease expired) both start from the state.
    Index("ix_jobs_state_run_after", "state", "run_after"),
    # The per-key limit counts running jobs of one key.
    Index("ix_jobs_concurrency_key_state", "concurrency_key", "state"),
    # Pruning finds finished jobs by age.
    Index("ix_jobs_state_finished_at", "state", "finished_at"),
)

job_schedules = Table(
    "job_schedules",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("cron", String(128), nullable=False),
    Column("kind", String(128), nullable=False),
    Column("payload", Text, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("next_tick_at", BigInteger, nullable=False),
    Column("last_tick_at", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

TABLES = (jobs, job_schedules)

_RELEASED_LEASE: dict[str, Any] = {"lease_owner": None, "lease_token": None, "lease_expires_at": None}


def dump_json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _load_json(value: str | None) -> Any:
    return None if value is None else orjson.loads(value)


def _job(row: Row[Any]) -> Job:
    return Job(
        id=row.id,
        kind=row.kind,
        payload=orjson.loads(row.payload),
        state=JobState(row.state),
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        run_after=row.run_after,
        timeout_ms=row.timeout_ms,
        concurrency_key=row.concurrency_key,
        concurrency_limit=row.concurrency_limit,
        dedupe_key=row.dedupe_key,
        lease_owner=row.lease_owner,
        lease_expires_at=row.lease_expires_at,
        heartbeat_at=row.heartbeat_at,
        cancel_requested=bool(row.cancel_requested),
        progress=_load_json(row.progress),
        result=_load_json(row.result),
        last_error=row.last_error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )


# --- jobs -------------------------------------------------------------------------------------


def insert_job(conn: Connection, values: dict[str, Any]) -> str:
    """Insert a job; with a dedupe key already taken, insert nothing. Returns the id of the job
    that holds the key (the new one, or the one enqueued before)."""
    if values["dedupe_key"] is None:
        conn.execute(jobs.insert().values(**values))
        return str(values["id"])
    insert = upsert(conn, jobs)
    # ON CONFLICT DO NOTHING rather than catching the IntegrityError: on PostgreSQL an error would
    # abort the caller's transaction, and the loser of a race waits for the winner's commit here.
    conn.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"]))
    return str(conn.execute(select(jobs.c.id).where(jobs.c.dedupe_key == values["dedupe_key"])).scalar_one())


def get_job(conn: Connection, job_id: str, *, for_update: bool = False) -> Job | None:
    query = select(jobs).where(jobs.c.id == job_id)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return None if row is None else _job(row)


def list_jobs(
    conn: Connection, *, states: Sequence[str], kinds: Sequence[str], before_id: str | None, limit: int
) -> list[Job]:
    """Newest first: ids are time-ordered (to the millisecond), so the id is both the order and
    an exact page cursor."""
    query = select(jobs)
    if states:
        query = query.where(jobs.c.state.in_(states))
    if kinds:
        query = query.where(jobs.c.kind.in_(kinds))
    if before_id is not None:
        query = query.where(jobs.c.id < before_id)
    return [_job(row) for row in conn.execute(query.order_by(jobs.c.id.desc()).limit(limit))]


def expired_leases(conn: Connection, now: int) -> list[Job]:
    """Running jobs whose worker stopped heartbeating, locked; rows another replica is reaping
    right now are skipped (never waited for: two reapers locking in different orders would
    deadlock)."""
    query = (
        select(jobs)
        .where(jobs.c.state == JobState.RUNNING.value, jobs.c.lease_expires_at < now)
        .order_by(jobs.c.id)
        .with_for_update(skip_locked=True)
    )
    return [_job(row) for row in conn.execute(query)]


def work_is_due(conn: Connection, kinds: Sequence[str], now: int) -> bool:
    """A cheap read before the claim's write transaction: an idle worker polling must not take
    SQLite's single write lock every poll, nor lock rows on PostgreSQL."""
    due = select(jobs.c.id).where(
        jobs.c.state == JobState.QUEUED.value, jobs.c.run_after <= now, jobs.c.kind.in_(kinds)
    )
    expired = select(jobs.c.id).where(jobs.c.state == JobState.RUNNING.value, jobs.c.lease_expires_at < now)
    return bool(conn.execute(select(or_(due.exists(), expired.exists()))).scalar_one())


def claim_candidates(conn: Connection, kinds: Sequence[str], now: int, limit: int) -> list[Row[Any]]:
    """Due queued jobs of these kinds, oldest due first, leaving out keys already at their limit
    (re-checked per job by the caller under the key's lock). Locked rows are skipped on PostgreSQL:
    another replica is claiming them."""
    running = jobs.alias("running")
    key_has_room: ColumnElement[bool] = or_(
        jobs.c.concurrency_key.is_(None),
        select(func.count())
        .select_from(running)
        .where(running.c.concurrency_key == jobs.c.concurrency_key, running.c.state == JobState.RUNNING.value)
        .scalar_subquery()
        < jobs.c.concurrency_limit,
    )
    query = (
        select(jobs.c.id, jobs.c.concurrency_key, jobs.c.concurrency_limit)
        .where(jobs.c.state == JobState.QUEUED.value, jobs.c.run_after <= now, jobs.c.kind.in_(kinds))
        .where(key_has_room)
        .order_by(jobs.c.run_after, jobs.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=jobs)
    )
    return list(conn.execute(query))


def lock_concurrency_key(conn: Connection, key: str) -> bool:
    """PostgreSQL: take the key's transaction lock if free (False: another claimer is deciding on
    this key right now, skip it this round). SQLite's claimers already take turns."""
    if conn.dialect.name != "postgresql":
        return True
    lock_id = zlib.crc32(b"plimsoll-job-key:" + key.encode())
    return bool(conn.execute(text("SELECT pg_try_advisory_xact_lock(:id)"), {"id": lock_id}).scalar_one())


def running_with_key(conn: Connection, key: str) -> int:
    query = select(func.count()).where(jobs.c.concurrency_key == key, jobs.c.state == JobState.RUNNING.value)
    return int(conn.execute(query).scalar_one())


def mark_claimed(conn: Connection, job_id: str, *, owner: str, token: str, now: int, lease_ms: int) -> Job:
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id)
        .values(
            state=JobState.RUNNING.value,
            attempts=jobs.c.attempts + 1,
            lease_owner=owner,
            lease_token=token,
            lease_expires_at=now + lease_ms,
            heartbeat_at=now,
            started_at=now,
            progress=None,
        )
    )
    job = get_job(conn, job_id)
    assert job is not None  # the row is locked by this transaction
    return job


def renew_leases(conn: Connection, tokens: Iterable[str], *, now: int, lease_ms: int) -> dict[str, bool]:
    """Extend the leases still held; returns {lease_token: cancel_requested} for those. A token
    missing from the answer lost its job (reaped, timed out elsewhere, or finished)."""
    held = [*tokens]
    if not held:
        return {}
    rows = conn.execute(
        update(jobs)
        .where(jobs.c.lease_token.in_(held), jobs.c.state == JobState.RUNNING.value)
        .values(lease_expires_at=now + lease_ms, heartbeat_at=now)
        .returning(jobs.c.lease_token, jobs.c.cancel_requested)
    )
    return {row.lease_token: bool(row.cancel_requested) for row in rows}


def save_progress(conn: Connection, token: str, progress: Any) -> None:
    conn.execute(
        update(jobs)
        .where(jobs.c.lease_token == token, jobs.c.state == JobState.RUNNING.value)
        .values(progress=dump_json(progress))
    )


def held_job(conn: Connection, token: str) -> Job | None:
    """The job this lease still holds, locked until the transaction ends (PostgreSQL)."""
    query = (
        select(jobs)
        .where(jobs.c.lease_token == token, jobs.c.state == JobState.RUNNING.value)
        .with_for_update()
    )
    row = conn.execute(query).first()
    return None if row is None else _job(row)


def end_attempt(conn: Connection, token: str, values: dict[str, Any]) -> bool:
    """Write an attempt's outcome if the lease is still held (fenced by its token)."""
    result = conn.execute(
        update(jobs)
        .where(jobs.c.lease_token == token, jobs.c.state == JobState.RUNNING.value)
        .values(**_RELEASED_LEASE, **values)
    )
    return result.rowcount == 1


def update_job(conn: Connection, job_id: str, values: dict[str, Any], *, release_lease: bool = False) -> None:
    """Change a job the caller has read `for_update` (so nobody moved it since)."""
    if release_lease:
        values = {**_RELEASED_LEASE, **values}
    conn.execute(update(jobs).where(jobs.c.id == job_id).values(**values))


def delete_finished(conn: Connection, states: Sequence[str], finished_before: int) -> int:
    result = conn.execute(delete(jobs).where(jobs.c.state.in_(states), jobs.c.finished_at < finished_before))
    return int(result.rowcount)


# --- schedules --------------------------------------------------------------------------------


def _schedule(row: Row[Any]) -> Schedule:
    return Schedule(
        name=row.name,
        cron=row.cron,
        kind=row.kind,
        payload=orjson.loads(row.payload),
        enabled=bool(row.enabled),
        next_tick_at=row.next_tick_at,
        last_tick_at=row.last_tick_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def get_schedule(conn: Connection, name: str) -> Schedule | None:
    row = conn.execute(select(job_schedules).where(job_schedules.c.name == name)).first()
    return None if row is None else _schedule(row)


def insert_schedule(conn: Connection, values: dict[str, Any]) -> bool:
    """Insert a schedule; False (nothing inserted) when another writer inserted one of that name
    at the same time, as replicas starting together all put the capabilities' schedules in place."""
    statement = upsert(conn, job_schedules).values(**values).on_conflict_do_nothing(index_elements=["name"])
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... ON CONFLICT DO NOTHING.
    return conn.execute(statement.returning(job_schedules.c.name)).first() is not None


def update_schedule(conn: Connection, name: str, values: dict[str, Any]) -> None:
    conn.execute(update(job_schedules).where(job_schedules.c.name == name).values(**values))


def delete_schedule(conn: Connection, name: str) -> bool:
    return conn.execute(delete(job_schedules).where(job_schedules.c.name == name)).rowcount == 1


def list_schedules(conn: Connection) -> list[Schedule]:
    return [_schedule(row) for row in conn.execute(select(job_schedules).order_by(job_schedules.c.name))]


def schedule_is_due(conn: Connection, now: int) -> bool:
    query = select(job_schedules.c.name).where(job_schedules.c.enabled, job_schedules.c.next_tick_at <= now)
    return bool(conn.execute(select(query.exists())).scalar_one())


def due_schedules(conn: Connection, now: int) -> list[Schedule]:
    """Enabled schedules with a tick due, locked; another replica firing them is skipped."""
    query = (
        select(job_schedules)
        .where(job_schedules.c.enabled, job_schedules.c.next_tick_at <= now)
        .order_by(job_schedules.c.name)
        .with_for_update(skip_locked=True)
    )
    return [_schedule(row) for row in conn.execute(query)]


def advance_schedule(
    conn: Connection, name: str, *, fired_tick: int, expected_next: int, next_tick: int
) -> bool:
    """Move the schedule past the tick it fired, only if nobody else moved it first."""
    result = conn.execute(
        update(job_schedules)
        .where(job_schedules.c.name == name, job_schedules.c.next_tick_at == expected_next)
        .values(next_tick_at=next_tick, last_tick_at=fired_tick)
    )
    return result.rowcount == 1
