"""Failing handlers (retried with backoff, then parked, then replayed), replicas of one work
consumer sharing its lease, and retention that never deletes what a consumer still needs.
Both backends."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter

from outbox_helpers import append_committed, created, drain, eventually, updated

from plimsoll.core.db import Database
from plimsoll.core.outbox import (
    Backoff,
    ConsumerRunner,
    ConsumerState,
    Cursor,
    Event,
    EventCatalog,
    Outbox,
    ParkedEvent,
)

BACKOFF = Backoff(initial_ms=30, factor=2.0, max_ms=1000, max_attempts=4)


def test_a_failing_handler_is_retried_with_backoff_then_parked_and_replayed(
    db: Database, outbox: Outbox
) -> None:
    attempts: list[float] = []
    handled: list[int] = []
    poison: list[int] = []
    healed = threading.Event()

    def handle(event: Event) -> None:
        if event.id in poison and not healed.is_set():
            attempts.append(time.monotonic())
            raise RuntimeError(f"cannot handle {event.aggregate}")
        handled.append(event.id)

    ids = append_committed(outbox, db, updated("thing:a", 0))
    poison.extend(append_committed(outbox, db, updated("thing:a", 1)))
    ids += append_committed(outbox, db, updated("thing:a", 2))
    runner = ConsumerRunner(outbox, poll_interval=0.01)
    runner.add_work("fragile", handle, backoff=BACKOFF)
    runner.start()
    try:
        eventually(lambda: len(attempts) >= 2)
        assert handled == ids[:1]  # the consumer holds its position while it retries: order is kept
        eventually(lambda: handled == ids, timeout=30)  # parked after 4 attempts, then it moved on
        assert len(attempts) == 4
        gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
        for attempt, gap in enumerate(gaps, start=1):
            assert gap >= BACKOFF.delay_ms(attempt) / 1000 - 0.005  # never earlier than the backoff
        [parked] = eventually(lambda: outbox.parked("fragile"))  # stored with the batch's position
        assert (parked.event_id, parked.attempts, parked.status) == (poison[0], 4, "parked")
        assert "RuntimeError: cannot handle thing:a" in parked.last_error

        # A replay that fails again parks the event again, one attempt more; never dropped.
        assert outbox.replay("fragile") == 1
        runner.wake()
        eventually(lambda: outbox.parked("fragile")[0].attempts == 5)
        assert outbox.parked("fragile")[0].status == "parked"
        # Fixed: replayed, delivered, unparked.
        healed.set()
        assert outbox.replay("fragile", [poison[0]]) == 1
        runner.wake()
        eventually(lambda: outbox.parked("fragile") == [])
        assert handled == [*ids, poison[0]]
    finally:
        assert runner.stop(timeout=10)


def test_a_handler_that_fails_once_is_retried_and_keeps_the_order(db: Database, outbox: Outbox) -> None:
    failed: list[int] = []
    handled: list[int] = []

    def handle(event: Event) -> None:
        if event.payload["seq"] == 1 and not failed:
            failed.append(event.id)
            raise ValueError("not yet")
        handled.append(event.payload["seq"])

    runner = ConsumerRunner(outbox, poll_interval=0.01)
    runner.add_broadcast("cache", handle, backoff=BACKOFF)
    runner.start()
    try:
        append_committed(outbox, db, *(updated("thing:a", seq) for seq in range(5)))
        eventually(lambda: handled == [0, 1, 2, 3, 4])
    finally:
        assert runner.stop(timeout=10)
    assert len(failed) == 1 and outbox.parked() == []


def test_two_replicas_of_a_work_consumer_handle_each_event_once(
    database_url: str, db: Database, catalog: EventCatalog
) -> None:
    counts: Counter[int] = Counter()
    by_replica: Counter[str] = Counter()
    lock = threading.Lock()
    replicas = []
    for name in ("replica-a", "replica-b"):
        replica_db = Database(database_url)
        runner = ConsumerRunner(Outbox(replica_db, catalog), poll_interval=0.01, replica=name)

        def handle(event: Event, name: str = name) -> None:
            with lock:
                counts[event.id] += 1
                by_replica[name] += 1

        runner.add_work("indexer", handle, lease_ms=5000, batch_size=7)
        replicas.append((runner, replica_db))
    writer = Outbox(db, catalog)
    ids: list[int] = []
    try:
        for runner, _ in replicas:
            runner.start()
        for seq in range(40):
            ids += append_committed(
                writer, db, created(f"thing:{seq % 4}", seq), updated(f"thing:{seq % 4}", seq)
            )
        eventually(lambda: set(counts) == set(ids), timeout=30)
        # The lease holder stops (handing its lease back); the other replica takes over.
        holder = writer.consumer("indexer")
        assert holder is not None and holder.owner in {"replica-a", "replica-b"}
        stopped = next(r for r in replicas if r[0].replica == holder.owner)
        assert stopped[0].stop(timeout=10)
        ids += append_committed(writer, db, created("thing:late"))
        eventually(lambda: set(counts) == set(ids), timeout=30)
        time.sleep(0.3)
    finally:
        for runner, replica_db in replicas:
            assert runner.stop(timeout=10)
            replica_db.dispose()
    assert all(count == 1 for count in counts.values()), counts
    assert sorted(counts) == sorted(ids)
    assert set(by_replica) == {"replica-a", "replica-b"}


def test_prune_keeps_what_a_work_consumer_has_not_passed_or_parked(db: Database, outbox: Outbox) -> None:
    ids = [append_committed(outbox, db, created(f"thing:{seq}", seq))[0] for seq in range(10)]
    for name in ("slow", "fast"):
        outbox.register_consumer(name)
    for name, position in (("slow", ids[2]), ("fast", ids[6])):
        state = outbox.take_lease(name, "test", 1000)
        assert state is not None
        assert outbox.save(ConsumerState(name, Cursor(position)), "test", 1000)
    outbox.park([ParkedEvent("fast", ids[1], 5, "boom", 0, "parked")])
    time.sleep(0.005)
    assert outbox.prune(older_than_ms=3_600_000) == 0  # nothing is an hour old
    assert outbox.prune(older_than_ms=0) == 2  # ids[0] and ids[2]: ids[1] is parked, ids[3:] unread
    # Readers from the start step over the pruned ids (on PostgreSQL once their gap has settled).
    remaining = [ids[1], *ids[3:]]
    seen, _ = drain(outbox, Cursor(), len(remaining))
    assert [event.id for event in seen] == remaining

    state = outbox.take_lease("slow", "test", 1000)
    assert state is not None and outbox.save(ConsumerState("slow", Cursor(ids[-1])), "test", 1000)
    state = outbox.take_lease("fast", "test", 1000)
    assert state is not None and outbox.save(ConsumerState("fast", Cursor(ids[-1])), "test", 1000)
    with db.write() as conn:
        assert outbox.prune(0, conn) == 7  # all but the parked one
    later = append_committed(outbox, db, created("thing:later"))
    assert later[0] > ids[-1]  # ids are never handed out twice, even after the newest were pruned


def test_a_removed_consumer_no_longer_holds_back_prune(db: Database, outbox: Outbox) -> None:
    [event_id] = append_committed(outbox, db, created("thing:1"))
    outbox.register_consumer("gone")
    outbox.park([ParkedEvent("gone", event_id, 5, "boom", 0, "parked")])
    time.sleep(0.005)
    assert outbox.prune(0) == 0
    assert outbox.remove_consumer("gone") and not outbox.remove_consumer("gone")
    assert outbox.parked() == [] and outbox.consumers() == []
    assert outbox.prune(0) == 1
