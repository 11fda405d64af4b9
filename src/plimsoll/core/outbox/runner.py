"""`ConsumerRunner`: one thread per process that polls the outbox and drives its consumers.

    runner = ConsumerRunner(outbox, poll_interval=0.2)
    runner.add_work("webhooks", deliver)                 # once across all replicas
    runner.add_broadcast("cache", invalidate)            # in every replica
    runner.start()
    ...
    runner.stop(timeout=5.0)

A *work* consumer has one durable cursor (`outbox_consumers`). A runner takes the lease on its
row in a short write transaction (and renews it there when half of it is left, also between the
events of a batch); only the lease holder reads and handles, and stores the new position (renewing
the lease) at most once a `SAVE_INTERVAL_S` while events keep coming, and as soon as it falls idle.
An idle round of the holder only reads, and a replica without the lease only reads the row until
the lease has run out. A replica whose lease expired (crashed, or stuck longer than `lease_ms`)
is replaced by the next runner that polls; leases compare the replicas' clocks, which must agree
to well within `lease_ms`.
A *broadcast* consumer keeps its cursor in memory, starting at the head when the runner starts
(after every transaction then running has ended, so nothing committing later is below it).

Delivery is at least once (a crash after handling, before the position is stored, delivers
again; handlers get `event.id` to be idempotent) and in id order, which is commit order per
aggregate. A handler that raises holds its consumer where it is (order is kept) and is retried
after a growing delay; after `Backoff.max_attempts` attempts the event is parked for that
consumer and the consumer moves on. `Outbox.replay` asks for parked events to be delivered again;
the runner of a consumer of that name does it, and parks an event again if it fails again.

The runner polls every `poll_interval` and at once when a transaction of this process appended
events (`Outbox.on_appended`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from typing import Literal

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox.entities import Backoff, ConsumerState, Cursor, Event, ParkedEvent
from plimsoll.core.outbox.service import MAX_PAGE, Outbox
from plimsoll.core.validation import check_name

log = logging.getLogger(__name__)

Handler = Callable[[Event], None]
# How long a runner woken by a commit waits for the commits that follow before it reads: a busy
# server's consumers then read a few dozen events a round rather than one or two, and the rounds
# (a read, a handler's preparation, now and then a store) stop competing with the requests for the
# process's time. It is also the delay an event waits on an otherwise idle server.
COALESCE_S = 0.2
REPLAY_CHECK_S = 1.0
# A busy work consumer stores its position at most this often (and whenever it falls idle, parks
# an event, renews its lease or stops): a store is a write, and on SQLite it queues with the
# requests for the one write lock. A crash redelivers at most this much, which at-least-once
# delivery allows.
SAVE_INTERVAL_S = 1.0


@dataclass
class _Consumer:
    name: str
    handler: Handler
    kind: str  # "work" or "broadcast"
    types: frozenset[str] | None
    batch_size: int
    backoff: Backoff
    lease_ms: int
    # The cursor: in memory for a broadcast consumer; for a work consumer, its row while this
    # replica holds the lease (until held_until), else None.
    state: ConsumerState | None = None
    held_until: int = 0
    # A work consumer's position as last stored, and when: the position in memory runs ahead of
    # it by at most SAVE_INTERVAL_S of events while events keep coming.
    saved: ConsumerState | None = None
    saved_at: float = 0.0
    start: tuple[int, int | None] | None = None  # a broadcast consumer's head_start()
    ready: threading.Event = field(default_factory=threading.Event)
    # Called once before the handler sees a batch (or replays): where a handler would read the
    # same thing for every event (a webhook's subscriptions), it reads it once a batch.
    before_batch: Callable[[], None] | None = None
    replays_checked: float = 0.0  # time.monotonic() of the last look for replays asked for


class ConsumerRunner:
    def __init__(self, outbox: Outbox, *, poll_interval: float = 0.2, replica: str | None = None) -> None:
        self.outbox = outbox
        self.poll_interval = poll_interval
        self.replica = replica or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._consumers: list[_Consumer] = []
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._remove_listener: Callable[[], None] | None = None

    def add_work(
        self,
        name: str,
        handler: Handler,
        *,
        types: Collection[str] | None = None,
        batch_size: int = 100,
        backoff: Backoff = Backoff(),
        lease_ms: int = 10_000,
        start_at: Literal["beginning", "head"] = "beginning",
        before_batch: Callable[[], None] | None = None,
    ) -> None:
        """A consumer whose events are handled once across all replicas running one of that name
        (at least once: after a crash, or a handler that outlives `lease_ms`, some again). A new
        consumer starts at the oldest kept event, or at the head; an existing one where it was."""
        if start_at not in {"beginning", "head"}:
            raise InvalidParameter("start_at", "must be 'beginning' or 'head'")
        if lease_ms < 100:
            raise InvalidParameter("lease_ms", "must be at least 100")
        consumer = _Consumer(name, handler, "work", self._types(types), batch_size, backoff, lease_ms)
        self._add(replace(consumer, before_batch=before_batch))
        self.outbox.register_consumer(name, start_at)

    def add_broadcast(
        self,
        name: str,
        handler: Handler,
        *,
        types: Collection[str] | None = None,
        batch_size: int = 100,
        backoff: Backoff = Backoff(),
        before_batch: Callable[[], None] | None = None,
    ) -> None:
        """A consumer that sees, in this process, every event committed after it became ready
        (`start` waits for that: once every transaction running when it started has ended)."""
        consumer = _Consumer(name, handler, "broadcast", self._types(types), batch_size, backoff, 0)
        self._add(replace(consumer, before_batch=before_batch))

    def _types(self, types: Collection[str] | None) -> frozenset[str] | None:
        return (
            None if types is None else frozenset(self.outbox.catalog.require(t, "types").name for t in types)
        )

    def _add(self, consumer: _Consumer) -> None:
        check_name("name", consumer.name, max_length=128)
        if not 1 <= consumer.batch_size <= MAX_PAGE:
            raise InvalidParameter("batch_size", f"must be between 1 and {MAX_PAGE}")
        if consumer.backoff.max_attempts < 1 or consumer.backoff.initial_ms < 0:
            raise InvalidParameter("backoff", "needs max_attempts >= 1 and initial_ms >= 0")
        if self._thread is not None:
            raise Conflict("add consumers before the runner starts")
        if any(known.name == consumer.name for known in self._consumers):
            raise Conflict(f"consumer {consumer.name!r} is added already")
        self._consumers.append(consumer)

    def start(self, ready_timeout: float = 10.0) -> ConsumerRunner:
        """Start polling; wait (up to `ready_timeout`) until every broadcast consumer has its start."""
        if self._thread is not None or self._stopping.is_set():
            raise Conflict("a runner starts once")
        for consumer in self._consumers:
            if consumer.kind == "broadcast":
                consumer.start = self.outbox.head_start()
        self._remove_listener = self.outbox.on_appended(self.wake)
        self._thread = threading.Thread(target=self._loop, name=f"outbox-runner-{self.replica}", daemon=True)
        self._thread.start()
        for consumer in self._consumers:
            consumer.ready.wait(ready_timeout)
        return self

    def wake(self) -> None:
        if not self._wake.is_set():  # every commit calls this: skip the lock when already woken
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop polling and hand the leases back; False if a handler still ran after `timeout`."""
        self._stopping.set()
        self._wake.set()
        if self._remove_listener is not None:
            self._remove_listener()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            return False
        for consumer in self._consumers:
            if consumer.kind == "work":
                try:
                    if consumer.state is not None:
                        self._save(consumer)
                    self.outbox.release(consumer.name, self.replica)
                except Exception:
                    log.exception("outbox: could not release the lease of %s", consumer.name)
        return True

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            busy = False
            for consumer in self._consumers:
                if self._stopping.is_set():
                    return
                try:
                    busy = self._round(consumer) or busy
                except Exception:
                    log.exception("outbox: round of consumer %s failed", consumer.name)
            if not busy and self._wake.wait(self.poll_interval):
                # Woken by a commit of this process: the commits that follow within a moment join
                # the same round, so a burst of writes costs one read and one cursor save, not one
                # each (on SQLite a save takes the write lock the writers are queueing for).
                self._stopping.wait(COALESCE_S)

    def _round(self, consumer: _Consumer) -> bool:
        """One read and delivery for `consumer`; True if a full batch was read (poll again now)."""
        if consumer.kind == "work":
            held = self._hold_lease(consumer)
            consumer.ready.set()
            if not held:
                return False  # another replica holds the lease
        elif consumer.state is None:
            if consumer.start is None or not self.outbox.settled(consumer.start[1]):
                return False
            consumer.state = ConsumerState(consumer.name, Cursor(consumer.start[0]))
            consumer.ready.set()
        assert consumer.state is not None
        state = consumer.state
        self._replays(consumer)
        if state.retry_at > now_ms():
            return False
        events, planned = self.outbox.read(state.cursor, consumer.batch_size)
        if events and not self._prepare(consumer):
            return False
        new_state, parked = self._deliver(consumer, state, events, planned)
        if consumer.kind == "broadcast":
            if parked:
                self.outbox.park(parked)
            consumer.state = new_state
        else:
            consumer.state = new_state
            due = time.monotonic() - consumer.saved_at >= SAVE_INTERVAL_S
            if (parked or due or not events) and not self._save(consumer, parked):
                return False
        return len(events) == consumer.batch_size and new_state.retry_at == 0

    def _save(self, consumer: _Consumer, parked: list[ParkedEvent] | None = None) -> bool:
        """Store a work consumer's position if it moved (and what it parked), renewing its lease;
        False if the lease was lost (the new holder delivers again from the stored position)."""
        state = consumer.state
        assert state is not None
        if state == consumer.saved and not parked:
            return True
        if not self.outbox.save(state, self.replica, consumer.lease_ms, parked or ()):
            consumer.state, consumer.saved, consumer.held_until = None, None, 0
            return False
        consumer.saved, consumer.saved_at = state, time.monotonic()
        consumer.held_until = now_ms() + consumer.lease_ms
        return True

    def _hold_lease(self, consumer: _Consumer) -> bool:
        """Take or renew the lease of a work consumer when less than half of it is left. While it is
        held no other replica writes the row, so its state is kept here and an idle round writes
        nothing; a replica without the lease only reads until the holder's lease has run out."""
        now = now_ms()
        if consumer.state is not None and consumer.held_until - now > consumer.lease_ms // 2:
            return True
        if consumer.state is not None and consumer.state != consumer.saved:
            return self._save(consumer)  # renews the lease, keeping the position held in memory
        if consumer.state is None:
            row = self.outbox.consumer(consumer.name)
            if row is not None and row.owner not in {None, self.replica} and row.lease_until >= now:
                return False
        state = self.outbox.take_lease(consumer.name, self.replica, consumer.lease_ms)
        if state is None:
            consumer.state, consumer.saved, consumer.held_until = None, None, 0
            return False
        consumer.state, consumer.held_until = state, now + consumer.lease_ms
        consumer.saved, consumer.saved_at = state, time.monotonic()
        return True

    def _deliver(
        self, consumer: _Consumer, state: ConsumerState, events: list[Event], planned: Cursor
    ) -> tuple[ConsumerState, list[ParkedEvent]]:
        parked: list[ParkedEvent] = []
        if not events:
            return replace(state, cursor=planned), parked
        # The state is rebuilt once, at the end, not after each event: rounds carry dozens.
        past: Cursor | None = None  # the cursor past the last event handled (or parked)

        def settled() -> ConsumerState:
            if past is None:
                return state
            return replace(state, cursor=past, retry_event=None, attempts=0, retry_at=0)

        for item in events:
            error = self._handle(consumer, item)
            if error is not None:
                attempts = state.attempts + 1 if state.retry_event == item.id else 1
                if attempts < consumer.backoff.max_attempts:
                    delay = consumer.backoff.delay_ms(attempts)
                    return replace(
                        settled(), retry_event=item.id, attempts=attempts, retry_at=now_ms() + delay
                    ), parked
                log.warning("outbox: %s parks event %d after %d attempts", consumer.name, item.id, attempts)
                parked.append(ParkedEvent(consumer.name, item.id, attempts, error, now_ms(), "parked"))
            past = planned if item is events[-1] else planned.past(item.id)
            if self._stopping.is_set() or (consumer.kind == "work" and not self._hold_lease(consumer)):
                break
        return settled(), parked

    def _handle(self, consumer: _Consumer, item: Event) -> str | None:
        """Run the handler on one event; None, or the error it raised."""
        if consumer.types is not None and item.type not in consumer.types:
            return None
        try:
            consumer.handler(item)
        except Exception as exc:
            log.info("outbox: %s failed on event %d: %r", consumer.name, item.id, exc)
            return f"{type(exc).__name__}: {exc}"[:4000]
        return None

    def _prepare(self, consumer: _Consumer) -> bool:
        if consumer.before_batch is None:
            return True
        try:
            consumer.before_batch()
        except Exception as exc:  # nothing was delivered: the next round reads the batch again
            log.info("outbox: %s could not prepare a batch: %r", consumer.name, exc)
            return False
        return True

    def _replays(self, consumer: _Consumer) -> None:
        # A replay is asked for by hand and may wait a moment; looking every round (each commit's
        # wake-up, on a busy server) was a read per round for a table that is nearly always empty.
        if time.monotonic() - consumer.replays_checked < REPLAY_CHECK_S:
            return
        consumer.replays_checked = time.monotonic()
        claim_ms = max(consumer.lease_ms, 60_000)
        replays = self.outbox.claim_replays(consumer.name, claim_ms)
        if replays and not self._prepare(consumer):
            return
        for item in replays:
            try:
                consumer.handler(item)
            except Exception as exc:
                self.outbox.finish_replay(consumer.name, item.id, f"{type(exc).__name__}: {exc}"[:4000])
            else:
                self.outbox.finish_replay(consumer.name, item.id, None)
