"""Writing and reading on both backends: rolled-back changes publish nothing, committed events are
delivered in order per aggregate, the follow API pages without skipping."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from outbox_helpers import append_committed, created, drain, eventually, updated

from plimsoll.core.db import Database
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.outbox import ConsumerRunner, Cursor, Event, Outbox
from plimsoll.core.outbox import runner as runner_module


def test_rolled_back_append_publishes_nothing(db: Database, outbox: Outbox) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), db.write() as conn:
        outbox.append(conn, [created("thing:1")])
        raise Boom
    ids = append_committed(outbox, db, created("thing:2"))
    seen, _ = drain(outbox, Cursor(), 1)
    assert [event.aggregate for event in seen] == ["thing:2"]
    assert [event.id for event in seen] == ids


def test_committed_events_reach_a_work_consumer_in_order_per_aggregate(db: Database, outbox: Outbox) -> None:
    seen: list[Event] = []
    lock = threading.Lock()

    def handle(event: Event) -> None:
        with lock:
            seen.append(event)

    runner = ConsumerRunner(outbox, poll_interval=0.05)
    runner.add_work("recorder", handle)
    runner.start()
    try:
        for seq in range(30):
            append_committed(outbox, db, updated(f"thing:{seq % 3}", seq), updated("thing:all", seq))
        eventually(lambda: len(seen) == 60)
    finally:
        assert runner.stop(timeout=10)
    assert len({event.id for event in seen}) == 60
    for key in ("thing:0", "thing:1", "thing:2", "thing:all"):
        seqs = [event.payload["seq"] for event in seen if event.aggregate == key]
        assert seqs == sorted(seqs) and seqs
    state = outbox.consumer("recorder")
    assert state is not None and state.cursor.position == max(event.id for event in seen)
    assert state.owner is None  # stop() handed the lease back


def test_follow_pages_filters_and_resumes(db: Database, outbox: Outbox) -> None:
    ids = []
    for seq in range(7):
        ids += append_committed(outbox, db, created(f"thing:{seq}", seq), updated(f"thing:{seq}", seq))
    page = outbox.follow(limit=5)
    got = [event.id for event in page.events]
    while page.events:
        page = outbox.follow(after=page.next_page_token, limit=5)
        got += [event.id for event in page.events]
    assert got == ids
    assert outbox.follow(after=page.next_page_token).events == []
    later = append_committed(outbox, db, created("thing:late"))
    assert [event.id for event in outbox.follow(after=page.next_page_token).events] == later

    only = outbox.follow(types=["thing.updated"], limit=3)
    assert [event.type for event in only.events] == ["thing.updated"] * 3
    rest = outbox.follow(after=only.next_page_token, types=["thing.updated"], limit=100)
    assert [event.payload["seq"] for event in only.events + rest.events] == list(range(7))
    assert page.to_dict()["next_page_token"] == page.next_page_token

    with pytest.raises(InvalidParameter) as caught:
        outbox.follow(types=["thing.exploded"])
    assert caught.value.field == "types"
    with pytest.raises(InvalidParameter):
        outbox.follow(limit=0)
    with pytest.raises(InvalidParameter):
        outbox.follow(after="nonsense")


def test_a_broadcast_consumer_starts_at_the_head(db: Database, outbox: Outbox) -> None:
    append_committed(outbox, db, created("thing:old"))
    seen: list[str] = []
    runner = ConsumerRunner(outbox, poll_interval=0.05)
    runner.add_broadcast("cache", lambda event: seen.append(event.aggregate))
    runner.start()
    try:
        append_committed(outbox, db, created("thing:new"))
        eventually(lambda: seen == ["thing:new"])
    finally:
        assert runner.stop(timeout=10)
    assert outbox.head() == Cursor(outbox.follow().events[-1].id)


def test_an_append_wakes_the_runner_of_its_process(db: Database, outbox: Outbox, tmp_path: Path) -> None:
    """With a poll interval of a minute, only the wake-up after commit can deliver in time."""
    seen: list[int] = []
    runner = ConsumerRunner(outbox, poll_interval=60)
    runner.add_work("waker", lambda event: seen.append(event.id))
    runner.start()
    try:
        eventually(lambda: outbox.consumer("waker") is not None and outbox.consumer("waker").owner)  # type: ignore[union-attr]
        ids = append_committed(outbox, db, created("thing:1"))
        eventually(lambda: seen == ids, timeout=30)
    finally:
        assert runner.stop(timeout=10)


def test_ids_are_never_reused_and_the_sequence_hands_them_out_in_call_order(db: Database) -> None:
    """What the no-skip rule assumes of the id column: AUTOINCREMENT on SQLite (no reuse after the
    newest rows are deleted), a sequence without a per-session cache on PostgreSQL (values increase
    in the order `nextval` runs, across sessions)."""
    with db.read() as conn:
        if db.is_postgres:
            query = "SELECT cache_size FROM pg_sequences WHERE sequencename = 'outbox_events_id_seq'"
            assert conn.execute(sa.text(query)).scalar_one() == 1
        else:
            sql = conn.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'outbox_events'")
            ).scalar_one()
            assert "AUTOINCREMENT" in sql


def test_an_idle_lease_holder_does_not_write_every_round(db: Database, outbox: Outbox) -> None:
    runner = ConsumerRunner(outbox, poll_interval=0.01)
    runner.add_work("idle", lambda event: None, lease_ms=20_000)
    runner.start()
    try:
        first = eventually(lambda: outbox.consumer("idle") if outbox.consumer("idle").owner else None)  # type: ignore[union-attr]
        time.sleep(0.5)  # dozens of rounds; the lease is renewed only once half of it is gone
        again = outbox.consumer("idle")
        assert again is not None and again.lease_until == first.lease_until
    finally:
        assert runner.stop(timeout=10)


def test_before_batch_runs_once_for_a_batch_before_its_events(db: Database, outbox: Outbox) -> None:
    """What a consumer reads for every event (a webhook's subscriptions) it reads once a batch."""
    calls: list[str] = []
    ids = append_committed(outbox, db, *[created(f"thing:{n}") for n in range(10)])
    runner = ConsumerRunner(outbox, poll_interval=0.05)
    runner.add_work(
        "batched",
        lambda event: calls.append(f"event {event.id}"),
        before_batch=lambda: calls.append("prepare"),
    )
    runner.start()
    try:
        eventually(lambda: len(calls) == 11, timeout=30)
    finally:
        assert runner.stop(timeout=10)
    assert calls == ["prepare", *[f"event {event_id}" for event_id in ids]]


def test_a_busy_consumer_stores_its_position_once_an_interval_and_when_idle(
    db: Database, outbox: Outbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Storing the position is a write (on SQLite it queues with the requests for the one write
    lock): while events keep coming it is stored at most once a SAVE_INTERVAL_S, and at once when
    the consumer has caught up, so a crash redelivers at most an interval's events."""
    monkeypatch.setattr(runner_module, "SAVE_INTERVAL_S", 3600.0)
    seen: list[int] = []
    stored_while_busy: list[int] = []
    blocked, release = threading.Event(), threading.Event()

    def handle(event: Event) -> None:
        seen.append(event.id)
        if event.payload["seq"] == 0:
            blocked.set()
            release.wait(10)
        else:
            stored_while_busy.append(outbox.consumer("lagging").cursor.position)  # type: ignore[union-attr]

    first = append_committed(outbox, db, updated("thing:a", 0))[0]
    runner = ConsumerRunner(outbox, poll_interval=0.02)
    runner.add_work("lagging", handle, batch_size=1)
    runner.start()
    try:
        assert blocked.wait(10)
        ids = [append_committed(outbox, db, updated("thing:a", seq))[0] for seq in range(1, 6)]
        release.set()
        eventually(lambda: len(seen) == 6)
        # Caught up: the next round reads nothing and stores where it got to.
        eventually(lambda: outbox.consumer("lagging").cursor.position == ids[-1])  # type: ignore[union-attr]
    finally:
        assert runner.stop(timeout=10)
    assert seen == [first, *ids]
    # Full batches one after the other: nothing stored between them.
    assert stored_while_busy == [0] * 5
