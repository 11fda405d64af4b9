"""Scheduled (cron) jobs: the rules behind JobService's schedule methods.

Once per tick however many replicas fire: `fire_due` reads the due schedules locked (SKIP LOCKED
on PostgreSQL: another replica firing a schedule is skipped, not waited for; SQLite's firers take
turns), moves each schedule's `next_tick_at` past now with a conditional UPDATE, and enqueues the
tick's job under the dedupe key `schedule:<name>:<tick ms>`. Either guard alone keeps a tick from
firing twice; together they also hold if a row lock is lost to a failover. Missed ticks (every
replica down) fire once, for the latest one (see cron.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.jobs import rules, store
from plimsoll.core.jobs.cron import check_cron, latest_tick_at_or_before, next_tick_after
from plimsoll.core.jobs.entities import Schedule
from plimsoll.core.validation import check_name

if TYPE_CHECKING:
    from plimsoll.core.jobs.service import JobService

MAX_SCHEDULE_NAME_LENGTH = 128


def upsert(service: JobService, name: str, cron: str, kind: str, payload: Any, *, enabled: bool) -> Schedule:
    """Create or replace a schedule. Its next tick is recomputed when the cron expression
    changes or it is (re-)enabled, so that re-enabling fires no tick missed while disabled."""
    check_name("name", name, max_length=MAX_SCHEDULE_NAME_LENGTH)
    check_cron("cron", cron)
    service.registry.get(kind)
    if not isinstance(enabled, bool):
        raise InvalidParameter("enabled", f"must be true or false, got {enabled!r}")
    encoded = store.dump_json(payload)
    now = service.clock()
    with service.db.write() as conn:
        existing = store.get_schedule(conn, name)
        values = {"cron": cron, "kind": kind, "payload": encoded, "enabled": enabled, "updated_at": now}
        created = {"name": name, **values, "next_tick_at": next_tick_after(cron, now), "created_at": now}
        if existing is None and not store.insert_schedule(conn, created):
            existing = store.get_schedule(conn, name)  # made by another writer since our read
        if existing is not None:
            if existing.cron != cron or (enabled and not existing.enabled):
                values["next_tick_at"] = next_tick_after(cron, now)
            store.update_schedule(conn, name, values)
        schedule = store.get_schedule(conn, name)
    assert schedule is not None
    return schedule


def get(service: JobService, name: str) -> Schedule:
    with service.db.read() as conn:
        schedule = store.get_schedule(conn, name)
    if schedule is None:
        raise NotFound(f"schedule {name!r} not found")
    return schedule


def fire_due(service: JobService) -> list[str]:
    now = service.clock()
    known = set(service.registry.kinds())
    fired: list[str] = []
    with service.db.read() as conn:
        if not store.schedule_is_due(conn, now):
            return fired  # the common case, without taking the write lock
    with service.db.write() as conn:
        for schedule in store.due_schedules(conn, now):
            if schedule.kind not in known:
                continue  # left for a process that has this kind's handler (and its defaults)
            tick = latest_tick_at_or_before(schedule.cron, now)
            advanced = store.advance_schedule(
                conn,
                schedule.name,
                fired_tick=tick,
                expected_next=schedule.next_tick_at,
                next_tick=next_tick_after(schedule.cron, now),
            )
            if not advanced:
                continue  # another firer took this tick
            values = rules.new_job_values(
                service.registry.get(schedule.kind),
                schedule.payload,
                now,
                dedupe_key=f"schedule:{schedule.name}:{tick}",
            )
            fired.append(store.insert_job(conn, values))
    return fired
