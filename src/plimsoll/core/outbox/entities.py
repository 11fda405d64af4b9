"""Outbox values, and the no-skip rule (`plan`), without I/O.

Why no event is ever skipped
----------------------------
A reader keeps a `Cursor`: every id <= `position` has been handled (delivered, or known never to
become visible). It reads the visible rows with id > position in id order and delivers the
contiguous prefix: position+1, position+2, ... On SQLite (one writer at a time, `BEGIN
IMMEDIATE`) ids are taken in commit order, so a missing id below a visible one never appears
later and is passed over at once.

On PostgreSQL ids come from a sequence when the row is inserted, not when it commits, so id 7 may
commit after id 8 was read. A missing id below a visible one belongs to a transaction still in
flight, or rolled back (sequences never give a value back), or to a pruned row. When a reader
first stops at such a gap it records, in its cursor, the largest id it saw (`gap_below`) and its
snapshot's xmax (`gap_xmax`: the first xid not yet assigned then). Every transaction that holds
a missing id below `gap_below` took its xid before that id (`store.insert_events` asks for the
xid first), took that id before `gap_below`'s, which committed before the snapshot; so its xid is
below `gap_xmax`. Once a later snapshot's xmin is >= `gap_xmax`, all of those transactions have
ended, and any that committed is visible to that snapshot: an id below `gap_below` still missing
then is missing for good, and is passed over. The first recorded horizon is kept until it is
passed (re-recording it on every poll would let a busy server postpone it for ever). Ids above
`gap_below` are never passed over by that record; a new gap there records its own.

`Cursor.encode()` is the `next` token of the follow API, so a stateless HTTP follower keeps the
same guarantee.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from plimsoll.core.errors import InvalidParameter


@dataclass(frozen=True)
class NewEvent:
    """An event to append: `type` is a registered `noun.verb` name, `aggregate` the ordering key
    (`thing:<id>`): events of one aggregate are delivered in commit order."""

    type: str
    aggregate: str
    payload: Mapping[str, Any] | BaseModel
    actor: str
    project: str | None = None


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    aggregate: str
    project: str | None
    actor: str
    payload_json: str
    created_at: int

    @property
    def payload(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.payload_json)
        return value

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "aggregate": self.aggregate,
            "project": self.project,
            "actor": self.actor,
            "payload": self.payload,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Horizon:
    """A snapshot's xmin and xmax (PostgreSQL); both None where ids are taken in commit order."""

    xmin: int | None
    xmax: int | None


_CURSOR = re.compile(r"^(\d{1,19})(?:\.(\d{1,19})\.(\d{1,19}))?$")


@dataclass(frozen=True)
class Cursor:
    """All ids <= position are handled; ids below `gap_below` still missing once a snapshot's xmin
    reaches `gap_xmax` are missing for good (see the module docstring)."""

    position: int = 0
    gap_below: int | None = None
    gap_xmax: int | None = None

    def encode(self) -> str:
        if self.gap_below is None or self.gap_xmax is None:
            return str(self.position)
        return f"{self.position}.{self.gap_below}.{self.gap_xmax}"

    @classmethod
    def decode(cls, token: str | None, field_name: str = "after") -> Cursor:
        if token is None or token == "":
            return cls()
        match = _CURSOR.match(token)
        if match is None:
            raise InvalidParameter(field_name, "is not a cursor returned by this API (digits, or N.N.N)")
        gap_below = None if match.group(2) is None else int(match.group(2))
        gap_xmax = None if match.group(3) is None else int(match.group(3))
        return cls(int(match.group(1)), gap_below, gap_xmax)

    def past(self, event_id: int) -> Cursor:
        """The cursor once every id up to `event_id` is handled."""
        if self.gap_below is not None and event_id < self.gap_below:
            return Cursor(event_id, self.gap_below, self.gap_xmax)
        return Cursor(event_id)


def plan(cursor: Cursor, ids: Sequence[int], horizon: Horizon) -> tuple[int, Cursor]:
    """How many of `ids` (visible ids > cursor.position, ascending, read in the snapshot whose
    bounds are `horizon`) may be delivered now, and the cursor once they are."""
    commit_ordered = horizon.xmin is None
    settled = (
        cursor.gap_below is not None
        and cursor.gap_xmax is not None
        and horizon.xmin is not None
        and horizon.xmin >= cursor.gap_xmax
    )
    position = cursor.position
    count = 0
    for event_id in ids:
        missing = event_id > position + 1
        final = commit_ordered or (settled and cursor.gap_below is not None and event_id <= cursor.gap_below)
        if missing and not final:
            break
        position = event_id
        count += 1
    after = cursor.past(position) if count else cursor
    if after.gap_below is not None and position >= after.gap_below:
        after = Cursor(position)
    if count < len(ids) and (after.gap_below is None or settled):
        # Stopped at a gap no record covers: record this snapshot's horizon for it.
        after = Cursor(position, ids[-1], horizon.xmax)
    return count, after


@dataclass(frozen=True)
class ConsumerState:
    """A work consumer's durable row: its cursor, lease, and the retry state of its next event."""

    name: str
    cursor: Cursor
    owner: str | None = None
    lease_until: int = 0
    retry_event: int | None = None
    attempts: int = 0
    retry_at: int = 0


@dataclass(frozen=True)
class ParkedEvent:
    consumer: str
    event_id: int
    attempts: int
    last_error: str
    parked_at: int
    status: str  # "parked", or "replay" while a replay is pending


@dataclass(frozen=True)
class EventPage:
    """A page of the follow API: `next` is the `after` of the following request."""

    events: list[Event]
    next: str

    def to_dict(self) -> dict[str, Any]:
        return {"events": [event.to_dict() for event in self.events], "next": self.next}


@dataclass(frozen=True)
class Backoff:
    """Retry delays of a failing handler: initial_ms, x factor each attempt, capped at max_ms; the
    event is parked after `max_attempts` failed attempts."""

    initial_ms: int = 200
    factor: float = 2.0
    max_ms: int = 30_000
    max_attempts: int = 5

    def delay_ms(self, attempts: int) -> int:
        return int(min(self.max_ms, self.initial_ms * self.factor ** max(0, attempts - 1)))
