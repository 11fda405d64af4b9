"""Cron arithmetic for schedules, in UTC and whole seconds (croniter; a 6th field is seconds).

Firing each tick exactly once, whatever the number of replicas: a schedule row holds its next
tick. Whoever fires it (a) enqueues the job under the dedupe key `schedule:<name>:<tick>`, so a
second firing of the same tick inserts nothing, and (b) moves `next_tick_at` forward with a
conditional UPDATE (`WHERE next_tick_at = <the value it read>`), so only one firer advances it.
After downtime only the latest missed tick fires: a burst of stale runs helps nobody.
"""

from __future__ import annotations

from croniter import croniter

from plimsoll.core.errors import InvalidParameter

MAX_CRON_LENGTH = 128


def check_cron(field: str, expression: object) -> str:
    if not isinstance(expression, str):
        raise InvalidParameter(field, f"must be a string, got {type(expression).__name__}")
    if len(expression) > MAX_CRON_LENGTH:
        raise InvalidParameter(field, f"is {len(expression)} characters long; the limit is {MAX_CRON_LENGTH}")
    if not croniter.is_valid(expression):
        raise InvalidParameter(
            field, f"{expression!r} is not a cron expression (5 fields, or 6 with seconds last)"
        )
    return expression


def next_tick_after(expression: str, now_ms: int) -> int:
    """The first tick strictly after `now_ms`, in ms."""
    start = now_ms // 1000  # croniter's get_next is strictly after its start
    return int(croniter(expression, start).get_next(float)) * 1000


def latest_tick_at_or_before(expression: str, now_ms: int) -> int:
    """The last tick at or before `now_ms`, in ms (the one to fire after missed ticks)."""
    start = now_ms // 1000 + 1  # croniter's get_prev is strictly before its start
    return int(croniter(expression, start).get_prev(float)) * 1000
