"""The outbox: events written in the transaction of the change they describe, read without skips.

    outbox = Outbox(db, catalog)
    with db.write() as conn:
        ...                                            # the change
        outbox.append(conn, [NewEvent("thing.created", "thing:42", {"id": "42"}, actor="ada")])
    page = outbox.follow(after=None, types=["thing.created"], limit=100)   # GET /api/v1/events
    page = outbox.follow(after=page.next_page_token)

Writing: `append` inserts into `outbox_events` inside the caller's open transaction, so a rolled
back change publishes nothing and a committed one is stored durably before anyone is told;
delivery happens afterwards, from the table (`runner.ConsumerRunner`), so a crash between the
commit and the delivery loses nothing. Reading: every read goes through `entities.plan`, which
never passes over an id that may still commit (the module docstring there explains why). Work
consumers keep their cursor, lease and retry state in `outbox_consumers`; events they gave up on
are kept in `outbox_parked` until replayed. `prune` deletes old events every work consumer has
passed and none has parked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import orjson

from plimsoll.core.db import Connection, Database
from plimsoll.core.errors import InvalidParameter, PayloadTooLarge, Unavailable
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import store
from plimsoll.core.outbox.catalog import EventCatalog
from plimsoll.core.outbox.entities import (
    ConsumerState,
    Cursor,
    Event,
    EventPage,
    NewEvent,
    ParkedEvent,
    plan,
)
from plimsoll.core.validation import check_name

MAX_PAGE = 1000
MAX_PAYLOAD_CHARS = 64 * 1024  # events say what happened; large data stays where the change put it
_SCAN_FACTOR = 4  # a filtered follow scans up to this many rows per event asked for
_APPENDED = "plimsoll_outbox_appended"  # flags in the connection's info: wake readers after commit
_COMMITTED = "plimsoll_outbox_committed"


class Outbox:
    def __init__(self, db: Database, catalog: EventCatalog) -> None:
        self.db = db
        self.catalog = catalog
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._closed = False
        for name, listener in self._engine_listeners():
            db.listen(name, listener)

    # Writing

    def close(self) -> None:
        """Stop listening to the engine's commits (one Outbox per Database, closed with it).
        Closing again does nothing."""
        if self._closed:
            return
        self._closed = True
        for name, listener in self._engine_listeners():
            self.db.unlisten(name, listener)

    def _engine_listeners(self) -> list[tuple[str, Callable[..., None]]]:
        return [
            ("commit", self._on_commit),
            ("rollback", self._on_rollback),
            ("begin", self._on_begin),
            ("checkin", self._on_checkin),
        ]

    def append(self, conn: Connection, events: Sequence[NewEvent]) -> list[int]:
        """Validate and insert `events` in the caller's open transaction; their ids, in order.

        Call it once per transaction, after the change (and after `audit.record`): on PostgreSQL
        it locks each event's aggregate until the commit, so that one aggregate's events take
        their ids in commit order; a transaction that appended for `a` and later for `b` could
        deadlock with one that did the reverse (PostgreSQL then aborts one of them)."""
        if not conn.in_transaction():
            raise InvalidParameter("conn", "append runs inside the transaction of the change it describes")
        ts = now_ms()
        rows = []
        for index, new in enumerate(events):
            event_type = self.catalog.require(new.type, f"events[{index}].type")
            payload = orjson.dumps(event_type.validate(new.payload, f"events[{index}].payload")).decode()
            if len(payload) > MAX_PAYLOAD_CHARS:
                raise PayloadTooLarge(
                    f"events[{index}].payload",
                    f"is {len(payload)} characters of JSON; the limit is {MAX_PAYLOAD_CHARS}",
                )
            rows.append(
                {
                    "type": event_type.name,
                    "aggregate": check_name(f"events[{index}].aggregate", new.aggregate),
                    "project": None
                    if new.project is None
                    else check_name(f"events[{index}].project", new.project),
                    "actor": check_name(f"events[{index}].actor", new.actor),
                    "payload": payload,
                    "created_at": ts,
                }
            )
        if not rows:
            return []
        ids = store.insert_events(conn, rows)
        conn.info[_APPENDED] = True
        return ids

    def on_appended(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` once a transaction of this process that appended has committed (seen
        when its connection goes back to the pool or begins its next transaction); returns the
        function that removes it."""
        with self._lock:
            self._listeners.append(listener)

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove

    # The flags live in the connection's info (one per DBAPI connection). SQLAlchemy's "commit"
    # event comes before the commit itself; a reader woken then might not see the events yet.

    def _on_commit(self, conn: Connection) -> None:
        if conn.info.pop(_APPENDED, False):
            conn.info[_COMMITTED] = True

    def _on_rollback(self, conn: Connection) -> None:
        conn.info.pop(_APPENDED, None)

    def _on_begin(self, conn: Connection) -> None:
        if conn.info.pop(_COMMITTED, False):
            self._notify()

    def _on_checkin(self, _dbapi_connection: Any, record: Any) -> None:
        if record is not None and record.info.pop(_COMMITTED, False):
            self._notify()

    def _notify(self) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    # Reading

    def read(self, cursor: Cursor, limit: int = 100) -> tuple[list[Event], Cursor]:
        """Up to `limit` events after `cursor` that may be delivered now, and the cursor past them
        (which may carry a gap record even when no event is returned)."""
        with self.db.read() as conn:
            xmin = store.snapshot_xmin(conn)  # first statement: the snapshot the rows are read in
            rows = store.read_events(conn, cursor.position, limit)
            count, after = plan(cursor, [row.id for row in rows], xmin, lambda: store.new_xid(conn))
        return rows[:count], after

    def follow(
        self,
        after: str | None = None,
        types: Sequence[str] | None = None,
        limit: int = 100,
        *,
        project: str | None = None,
    ) -> EventPage:
        """A page for `GET /api/v1/events?after=&types=&project=&limit=`: events after the cursor
        token (None: from the oldest kept), optionally of some types or one project only; the next
        page's token never skips."""
        if not 1 <= limit <= MAX_PAGE:
            raise InvalidParameter("limit", f"must be between 1 and {MAX_PAGE}")
        wanted = None if not types else {self.catalog.require(name, "types").name for name in types}
        cursor = Cursor.decode(after)
        filtered = wanted is not None or project is not None
        events, planned = self.read(cursor, limit * _SCAN_FACTOR if filtered else limit)
        page: list[Event] = []
        for item in events:
            if (wanted is None or item.type in wanted) and (project is None or item.project == project):
                page.append(item)
                if len(page) == limit:
                    return EventPage(page, planned.past(item.id).encode())
        return EventPage(page, planned.encode())

    def head_start(self) -> tuple[int, int | None]:
        """The newest visible id, and an xid taken after it was read (None on SQLite): the start of
        a reader that wants only what commits from now on, once `settled(xid)` (see `head`)."""
        with self.db.read() as conn:
            xmin = store.snapshot_xmin(conn)
            newest = store.max_event_id(conn)
            return newest, None if xmin is None else store.new_xid(conn)

    def settled(self, xid: int | None) -> bool:
        """True once every transaction with an xid older than `xid` has ended."""
        if xid is None:
            return True
        with self.db.read() as conn:
            xmin = store.snapshot_xmin(conn)
        return xmin is not None and xmin >= xid

    def head(self, timeout_s: float = 10.0) -> Cursor:
        """A cursor after which every event that commits from now on is read (for `events tail`):
        the newest id, once every transaction that may hold a lower one has ended."""
        newest, xid = self.head_start()
        deadline = time.monotonic() + timeout_s
        while not self.settled(xid):
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"a transaction open for more than {timeout_s} s may still publish events below "
                    "the head; try again",
                )
            time.sleep(0.02)
        return Cursor(newest)

    # Work consumers

    def register_consumer(self, name: str, start_at: Literal["beginning", "head"] = "beginning") -> None:
        """Create the durable cursor of a work consumer, if it has none yet."""
        check_name("name", name, max_length=128)
        position = 0 if start_at == "beginning" else self.head().position
        with self.db.write() as conn:
            store.ensure_consumer(conn, name, position, now_ms())

    def take_lease(self, name: str, owner: str, lease_ms: int) -> ConsumerState | None:
        with self.db.write() as conn:
            return store.take_lease(conn, name, owner, now_ms(), lease_ms)

    def save(
        self, state: ConsumerState, owner: str, lease_ms: int, parked: Sequence[ParkedEvent] = ()
    ) -> bool:
        """Advance a consumer (and park what it gave up on) in one transaction; False if `owner`
        lost the lease meanwhile (then nothing is stored: the new holder delivers again)."""
        with self.db.write() as conn:
            if not store.save_consumer(conn, state, owner, now_ms(), lease_ms):
                return False  # the UPDATE matched no row: nothing was written
            for item in parked:
                store.park(conn, item)
        return True

    def release(self, name: str, owner: str) -> None:
        with self.db.write() as conn:
            store.release_lease(conn, name, owner)

    def remove_consumer(self, name: str) -> bool:
        """Forget a work consumer that is gone for good (its cursor and parked events), so that it
        no longer holds back `prune`; False if there was none of that name."""
        with self.db.write() as conn:
            return store.remove_consumer(conn, name)

    def consumers(self) -> list[ConsumerState]:
        with self.db.read() as conn:
            return store.list_consumers(conn)

    def consumer(self, name: str) -> ConsumerState | None:
        with self.db.read() as conn:
            return store.consumer_state(conn, name)

    # Parked events

    def park(self, items: Sequence[ParkedEvent]) -> None:
        with self.db.write() as conn:
            for item in items:
                store.park(conn, item)

    def parked(self, consumer: str | None = None) -> list[ParkedEvent]:
        with self.db.read() as conn:
            return store.list_parked(conn, consumer)

    def replay(self, consumer: str, event_ids: Sequence[int] | None = None) -> int:
        """Ask for parked events of `consumer` (all, or these) to be delivered again; how many."""
        with self.db.write() as conn:
            return store.request_replay(conn, consumer, event_ids)

    def claim_replays(self, consumer: str, claim_ms: int, limit: int = 100) -> list[Event]:
        """Parked events of `consumer` whose replay was asked for, claimed by the caller for
        `claim_ms` (a claimer that dies is replaced after that). Reads first: a runner asks every
        round, and a round with nothing to do writes nothing."""
        with self.db.read() as conn:
            if not store.due_replays(conn, consumer, now_ms(), 1):
                return []
        with self.db.write() as conn:
            ids = store.claim_replays(conn, consumer, now_ms(), claim_ms, limit)
            found = store.events_by_id(conn, ids)
        return [found[event_id] for event_id in ids if event_id in found]

    def finish_replay(self, consumer: str, event_id: int, error: str | None) -> None:
        """A replayed event was handled (unparked) or failed again (parked again, attempts + 1)."""
        with self.db.write() as conn:
            if error is None:
                store.unpark(conn, consumer, event_id)
            else:
                store.repark(conn, consumer, event_id, error, now_ms())

    # Retention

    def prune(self, older_than_ms: int, conn: Connection | None = None) -> int:
        """Delete events created more than `older_than_ms` ago that every work consumer has passed
        and none has parked; how many. In `conn`'s transaction if given."""
        if older_than_ms < 0:
            raise InvalidParameter("older_than_ms", "must not be negative")
        if conn is None:
            with self.db.write() as own:
                return self.prune(older_than_ms, own)
        return store.prune(conn, now_ms() - older_than_ms, store.min_position(conn))
