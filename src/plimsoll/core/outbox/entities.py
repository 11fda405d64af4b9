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
first stops at such a gap it records, in its cursor, the largest id its snapshot S showed
(`gap_below`) and a transaction id taken after S (`gap_xid`: the reading transaction asks for its
own xid then). A transaction holding a missing id m below `gap_below` took its xid before m
(`store.insert_events` asks for the xid first), m before `gap_below` (the sequence has no
per-session cache, so values rise in the order they are taken), and `gap_below` committed before
S was taken: so its xid is older than `gap_xid`. Once a later snapshot's xmin (the oldest xid still
running) is >= `gap_xid`, every such transaction has ended, and one that committed is visible to
that snapshot: an id below `gap_below` still missing then is missing for good, and is passed over.

(Not the snapshot's xmax, as one might think: PostgreSQL's xmax is one past the newest
*completed* xid, and a transaction that took a newer xid may still be running. A reader only
asks for an xid when it records a gap, not on every poll.)

The first record is kept until it is passed (re-recording it on every poll would let a busy
server postpone it for ever); ids above `gap_below` are never passed over by it, a gap there
gets a record of its own. A transaction that stays open anywhere in the PostgreSQL cluster (xids
are cluster-wide) delays the passing of a gap that was seen while it ran; it never causes a skip.

`Cursor.encode()` is the `next` token of the follow API, so a stateless HTTP follower keeps the
same guarantee.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
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

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """The inverse of `to_dict` (what the HTTP API sends)."""
        payload = json.dumps(data["payload"], separators=(",", ":"))
        return cls(
            int(data["id"]),
            str(data["type"]),
            str(data["aggregate"]),
            data["project"],
            str(data["actor"]),
            payload,
            int(data["created_at"]),
        )

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


# Declared in the OpenAPI document (`GET /api/v1/events?after=`); the empty token is the start.
# ASCII digits (`\d` also reads '٣'), at most 18 to a number, so that every number the pattern
# admits fits a 64-bit integer (19 digits may not) and the document promises nothing the server
# refuses; event ids and transaction ids stay far below 10**18.
CURSOR_PATTERN = r"^(?:([0-9]{1,18})(?:\.([0-9]{1,18})\.([0-9]{1,18}))?)?$"
_CURSOR = re.compile(CURSOR_PATTERN)


@dataclass(frozen=True)
class Cursor:
    """All ids <= position are handled; ids below `gap_below` still missing once a snapshot's xmin
    reaches `gap_xid` are missing for good (see the module docstring)."""

    position: int = 0
    gap_below: int | None = None
    gap_xid: int | None = None

    def encode(self) -> str:
        if self.gap_below is None or self.gap_xid is None:
            return str(self.position)
        return f"{self.position}.{self.gap_below}.{self.gap_xid}"

    @classmethod
    def decode(cls, token: str | None, field_name: str = "after") -> Cursor:
        if token is None or token == "":
            return cls()
        match = _CURSOR.fullmatch(token)
        if match is None:
            raise InvalidParameter(field_name, "is not a cursor returned by this API (digits, or N.N.N)")
        gap_below = None if match.group(2) is None else int(match.group(2))
        gap_xid = None if match.group(3) is None else int(match.group(3))
        return cls(int(match.group(1)), gap_below, gap_xid)

    def past(self, event_id: int) -> Cursor:
        """The cursor once every id up to `event_id` is handled."""
        if self.gap_below is not None and event_id < self.gap_below:
            return Cursor(event_id, self.gap_below, self.gap_xid)
        return Cursor(event_id)


def plan(
    cursor: Cursor, ids: Sequence[int], xmin: int | None, new_xid: Callable[[], int]
) -> tuple[int, Cursor]:
    """How many of `ids` (visible ids > cursor.position, ascending, read in one snapshot whose
    xmin is `xmin`; None where ids are taken in commit order) may be delivered now, and the cursor
    once they are. `new_xid` gives an xid taken after that snapshot; it is called only to record
    a new gap."""
    commit_ordered = xmin is None
    below = cursor.gap_below
    settled = below is not None and cursor.gap_xid is not None and xmin is not None and xmin >= cursor.gap_xid
    position = cursor.position
    count = 0
    for event_id in ids:
        missing = event_id > position + 1
        if missing and not (commit_ordered or (settled and below is not None and event_id <= below)):
            break
        position = event_id
        count += 1
    after = cursor.past(position) if count else cursor
    if after.gap_below is not None and position >= after.gap_below:
        after = Cursor(position)
    if count < len(ids) and (after.gap_below is None or settled):
        # Stopped at a gap no record covers: record one for it.
        after = Cursor(position, ids[-1], new_xid())
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
    """A page of the follow API: `next_page_token` is the `after` of the following request."""

    events: list[Event]
    next_page_token: str

    def to_dict(self) -> dict[str, Any]:
        return {"events": [event.to_dict() for event in self.events], "next_page_token": self.next_page_token}


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
