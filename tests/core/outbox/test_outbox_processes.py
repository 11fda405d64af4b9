"""Consumers in other processes on one PostgreSQL database: work and broadcast delivery across
processes, and `kill -9` between the commit and the delivery."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from outbox_helpers import Children, append_committed, created, eventually

from plimsoll.core.db import Database
from plimsoll.core.outbox import Outbox

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


def lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def done(log: Path) -> list[int]:
    return [int(line.split()[1]) for line in lines(log) if line.startswith("done ")]


def wait_ready(log: Path) -> None:
    eventually(lambda: "ready" in lines(log), timeout=60)


def test_an_event_of_one_process_reaches_a_work_consumer_in_another(
    pg_db: Database, pg_outbox: Outbox, children: Children, tmp_path: Path
) -> None:
    log = tmp_path / "b.log"
    children.start(pg_db.url, "work", "remote", log)
    wait_ready(log)
    for _ in range(3):
        started = time.monotonic()
        ids = append_committed(pg_outbox, pg_db, created("thing:1"))
        eventually(lambda ids=ids: ids[0] in done(log), timeout=2.0)  # the bound asked for: 2 s
        assert time.monotonic() - started < 2.0
    assert len(done(log)) == 3


def test_broadcast_consumers_in_two_processes_each_see_every_event(
    pg_db: Database, pg_outbox: Outbox, children: Children, tmp_path: Path
) -> None:
    logs = [tmp_path / "one.log", tmp_path / "two.log"]
    for log in logs:
        children.start(pg_db.url, "broadcast", "cache", log)
    for log in logs:
        wait_ready(log)
    ids: list[int] = []
    for seq in range(10):
        ids += append_committed(pg_outbox, pg_db, created(f"thing:{seq}", seq), created(f"thing:{seq}b", seq))
    for log in logs:
        eventually(lambda log=log: len(done(log)) >= len(ids), timeout=30)
    time.sleep(0.3)
    for log in logs:
        assert done(log) == ids


def test_a_consumer_killed_between_commit_and_delivery_delivers_once_after_restart(
    pg_db: Database, pg_outbox: Outbox, children: Children, tmp_path: Path
) -> None:
    block = tmp_path / "release"
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = children.start(pg_db.url, "work", "mailer", first_log, block=block)
    wait_ready(first_log)
    ids = append_committed(pg_outbox, pg_db, created("thing:1"))
    eventually(lambda: f"start {ids[0]}" in lines(first_log), timeout=30)
    children.kill(first)  # SIGKILL while its handler is blocked: the position was never stored
    assert done(first_log) == []
    block.touch()
    children.start(pg_db.url, "work", "mailer", second_log, block=block)
    wait_ready(second_log)
    # The dead replica's lease (1.5 s) runs out; the new one takes over and delivers.
    eventually(lambda: done(second_log) == ids, timeout=30)
    time.sleep(0.5)
    assert done(first_log) + done(second_log) == ids  # exactly one successful handling
    state = pg_outbox.consumer("mailer")
    assert state is not None and state.cursor.position == ids[0]


def test_a_consumer_killed_before_it_polls_delivers_after_restart(
    pg_db: Database, pg_outbox: Outbox, children: Children, tmp_path: Path
) -> None:
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = children.start(pg_db.url, "work", "mailer", first_log)
    wait_ready(first_log)
    children.kill(first)
    ids = append_committed(pg_outbox, pg_db, created("thing:1"), created("thing:2"))
    children.start(pg_db.url, "work", "mailer", second_log)
    wait_ready(second_log)
    eventually(lambda: done(second_log) == ids, timeout=30)
    time.sleep(0.5)
    assert done(first_log) == [] and done(second_log) == ids
