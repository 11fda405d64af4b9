"""PostgreSQL: ids are taken when rows are inserted, not when they commit. Readers must still see
every event: transactions that commit out of id order, rolled-back ids that leave a gap for good,
and many writers at once."""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict

import pytest
import sqlalchemy as sa
from outbox_helpers import append_committed, drain, eventually, updated

from plimsoll.core.db import Database
from plimsoll.core.errors import Unavailable
from plimsoll.core.outbox import ConsumerRunner, Cursor, Event, Outbox
from plimsoll.core.outbox.store import AGGREGATE_LOCK_CLASS

pytestmark = pytest.mark.postgres


def _in_order_per_aggregate(events: list[Event]) -> bool:
    by_aggregate: dict[str, list[int]] = defaultdict(list)
    for event in events:
        by_aggregate[event.aggregate].append(event.payload["seq"])
    return all(seqs == sorted(seqs) for seqs in by_aggregate.values())


def test_a_transaction_holding_lower_ids_that_commits_last_is_not_skipped(
    pg_db: Database, pg_outbox: Outbox
) -> None:
    handled: list[Event] = []
    runner = ConsumerRunner(pg_outbox, poll_interval=0.02)
    runner.add_work("worker", handled.append)
    runner.start()
    try:
        first = append_committed(pg_outbox, pg_db, updated("thing:a", 0))
        with pg_db.engine.connect() as low, pg_db.engine.connect() as high:
            low_tx = low.begin()
            low_ids = pg_outbox.append(low, [updated("thing:a", seq) for seq in (1, 2, 3)])
            high_tx = high.begin()
            high_ids = pg_outbox.append(high, [updated("thing:b", seq) for seq in (1, 2, 3)])
            assert min(high_ids) > max(low_ids) > min(first)
            high_tx.commit()
            # Polling in between: the events above the gap are held back, those below delivered.
            between, cursor = drain(pg_outbox, Cursor(), 1, timeout=5)
            assert [event.id for event in between] == first
            token = pg_outbox.follow().next_page_token
            for _ in range(10):
                more, cursor = pg_outbox.read(cursor)
                assert more == []
                assert pg_outbox.follow(after=token).events == []
                time.sleep(0.02)
            assert [event.id for event in handled] == first
            low_tx.commit()
        after, cursor = drain(pg_outbox, cursor, 6)
        assert [event.id for event in after] == low_ids + high_ids
        followed = pg_outbox.follow(after=token).events
        assert [event.id for event in followed] == low_ids + high_ids
        eventually(lambda: len(handled) == 7)
        time.sleep(0.2)  # a duplicate, if any, would show by now
    finally:
        assert runner.stop(timeout=10)
    assert sorted(event.id for event in handled) == sorted(first + low_ids + high_ids)
    assert len(handled) == 7
    assert _in_order_per_aggregate(handled)


def test_a_writer_whose_xid_is_newer_than_every_completed_one_is_waited_for(
    pg_db: Database, pg_outbox: Outbox
) -> None:
    """The trap in "skip the gap once xmin passes the snapshot's xmax": xmax is one past the newest
    *completed* xid, so a writer that took a newer xid and is still running is not below it. Here
    `high` takes its xid first, `low` its xid and a lower id next, and `high` commits while `low`
    runs: with nothing else completing meanwhile, the snapshot's xmax is not above low's xid."""
    with pg_db.engine.connect() as low, pg_db.engine.connect() as high:
        high_tx = high.begin()
        high.execute(sa.text("SELECT pg_current_xact_id()"))  # e.g. a service's own write came first
        low_tx = low.begin()
        low_ids = pg_outbox.append(low, [updated("thing:low", 1)])
        high_ids = pg_outbox.append(high, [updated("thing:high", 1)])
        high_tx.commit()
        cursor = Cursor()
        for _ in range(25):
            events, cursor = pg_outbox.read(cursor)
            assert events == [], "an event above the gap was delivered while the gap may still fill"
            time.sleep(0.02)
        low_tx.commit()
    seen, _ = drain(pg_outbox, cursor, 2)
    assert [event.id for event in seen] == low_ids + high_ids


def test_a_rolled_back_gap_does_not_hold_readers_for_ever(pg_db: Database, pg_outbox: Outbox) -> None:
    with pg_db.engine.connect() as conn, conn.begin() as tx:
        lost = pg_outbox.append(conn, [updated("thing:a", 1), updated("thing:a", 2)])
        tx.rollback()
    kept = append_committed(pg_outbox, pg_db, updated("thing:a", 3))
    assert kept[0] > max(lost)
    seen, cursor = drain(pg_outbox, Cursor(), 1)
    assert [event.id for event in seen] == kept
    assert cursor == Cursor(kept[0])
    # A stateless follower: its first poll is held at the gap, a later one passes it.
    first = pg_outbox.follow(after="0")
    assert first.events == []
    token = first.next_page_token

    def resumed() -> list[Event]:
        nonlocal token
        page = pg_outbox.follow(after=token)
        token = page.next_page_token
        return page.events

    assert [event.id for event in eventually(resumed)] == kept


def test_events_of_one_aggregate_take_ids_in_commit_order(pg_db: Database, pg_outbox: Outbox) -> None:
    second_ids: list[int] = []

    def second() -> None:
        second_ids.extend(append_committed(pg_outbox, pg_db, updated("thing:x", 2)))

    with pg_db.engine.connect() as conn, conn.begin():
        first_ids = pg_outbox.append(conn, [updated("thing:x", 1)])
        other = threading.Thread(target=second)
        other.start()
        # The second appender of thing:x waits on the aggregate's lock until the first commits.
        waiting = (
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND objsubid = 2"
            " AND classid = :cls AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        )
        with pg_db.engine.connect() as probe:
            eventually(
                lambda: probe.execute(sa.text(waiting), {"cls": AGGREGATE_LOCK_CLASS}).scalar_one() == 1
            )
        assert other.is_alive() and second_ids == []
    other.join(10)
    assert second_ids[0] > first_ids[0]


@pytest.mark.timeout(180)
def test_many_writers_while_readers_follow(pg_db: Database, pg_outbox: Outbox) -> None:
    writers, per_writer = 8, 250
    committed: list[int] = []
    committed_lock = threading.Lock()

    class Rollback(Exception):
        pass

    def write(worker: int) -> None:
        rng = random.Random(worker)
        seq = 0
        while seq < per_writer:
            batch = [
                updated(f"thing:{worker}", seq + i) for i in range(min(rng.randint(1, 5), per_writer - seq))
            ]
            seq += len(batch)
            roll_back = rng.random() < 0.1
            try:
                with pg_db.write() as conn:
                    ids = pg_outbox.append(conn, batch)
                    time.sleep(rng.random() * 0.004)  # widen the window between id and commit
                    if roll_back:
                        raise Rollback
            except Rollback:
                continue
            with committed_lock:
                committed.extend(ids)

    followed: list[Event] = []
    stop_following = threading.Event()

    def follow() -> None:
        token = None
        while not stop_following.is_set():
            page = pg_outbox.follow(after=token, limit=200)
            followed.extend(page.events)
            token = page.next_page_token
            if not page.events:
                time.sleep(0.01)

    handled: list[Event] = []
    runner = ConsumerRunner(pg_outbox, poll_interval=0.05)
    runner.add_work("worker", handled.append, batch_size=200)
    runner.start()
    follower = threading.Thread(target=follow)
    follower.start()
    threads = [threading.Thread(target=write, args=(worker,)) for worker in range(writers)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert 1500 < len(committed) < writers * per_writer
        eventually(lambda: len(followed) >= len(committed) and len(handled) >= len(committed), timeout=60)
        time.sleep(0.3)
    finally:
        stop_following.set()
        follower.join(10)
        assert runner.stop(timeout=10)
    assert sorted(event.id for event in followed) == sorted(committed)  # each exactly once
    assert sorted({event.id for event in handled}) == sorted(committed)
    assert _in_order_per_aggregate(followed) and _in_order_per_aggregate(handled)


def test_head_waits_for_open_writers_and_says_so_when_they_stay(pg_db: Database, pg_outbox: Outbox) -> None:
    append_committed(pg_outbox, pg_db, updated("thing:a", 1))
    with pg_db.engine.connect() as open_writer:
        tx = open_writer.begin()
        pending = pg_outbox.append(open_writer, [updated("thing:b", 1)])
        with pytest.raises(Unavailable):
            pg_outbox.head(timeout_s=0.3)
        tx.commit()
    assert pg_outbox.head() == Cursor(pending[0])
