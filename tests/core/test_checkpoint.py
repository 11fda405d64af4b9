"""WAL checkpoints run on their own thread: commits do not pay for them, and the log stays bounded."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from plimsoll.core import checkpoint
from plimsoll.core import db as db_module
from plimsoll.core.db import Database


def make_database(path: Path) -> Database:
    database = Database(f"sqlite:///{path}")
    with database.write() as conn:
        conn.execute(sa.text("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)"))
    return database


def insert_rows(database: Database, count: int, size: int = 8192, gap_s: float = 0.0) -> None:
    for _ in range(count):
        with database.write() as conn:
            conn.execute(sa.text("INSERT INTO t (body) VALUES (randomblob(:n))"), {"n": size})
        if gap_s:
            time.sleep(gap_s)


def wal_pages(path: Path) -> int:
    """Pages in the log now (a passive checkpoint reports it; it also copies them, harmlessly)."""
    with sqlite3.connect(path) as raw:
        _busy, log_pages, _copied = raw.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(log_pages)


def checkpoint_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name == "plimsoll-wal-checkpoint"}


def test_commits_leave_checkpoints_to_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    others = checkpoint_threads()  # other tests' databases in this process have their own
    database = make_database(path)
    try:
        with database.engine.connect() as conn:
            autocheckpoint = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
            assert autocheckpoint == checkpoint.SAFETY_NET_AUTOCHECKPOINT_PAGES
        size_before = path.stat().st_size
        insert_rows(database, 50)
        deadline = time.monotonic() + 10
        while path.stat().st_size <= size_before and time.monotonic() < deadline:
            time.sleep(0.05)
        # The pages reached the database file though no commit came near the safety net.
        assert path.stat().st_size > size_before + 50 * 8192
        ours = checkpoint_threads() - others
        assert len(ours) == 1
    finally:
        database.dispose()
    assert not any(thread.is_alive() for thread in ours)


def test_log_is_reset_while_commits_keep_coming(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkpoint, "RESTART_AFTER_PAGES", 64)
    monkeypatch.setattr(checkpoint, "CHECKPOINT_DELAY_S", 0.01)
    path = tmp_path / "db.sqlite"
    database = make_database(path)
    try:
        # ~3 pages per commit, 600 commits half a millisecond apart (as requests arrive): without a
        # restart the log would hold ~1,800 pages.
        insert_rows(database, 600, gap_s=0.0005)
        assert wal_pages(path) < 600
        with database.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 600
    finally:
        database.dispose()


def test_safety_net_bounds_the_log_when_the_thread_cannot_reset_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "RESTART_AFTER_PAGES", 10**9)  # the thread never restarts
    monkeypatch.setattr(db_module, "SAFETY_NET_AUTOCHECKPOINT_PAGES", 200)
    path = tmp_path / "db.sqlite"
    database = make_database(path)
    try:
        insert_rows(database, 600)  # back to back: ~1,800 pages
        assert wal_pages(path) < 600
    finally:
        database.dispose()


def test_a_second_process_checkpointing_is_harmless(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    first, second = make_database(path), Database(f"sqlite:///{path}")
    try:
        writers = [threading.Thread(target=insert_rows, args=(db, 100, 2048)) for db in (first, second)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        with first.read() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM t")).scalar_one() == 200
    finally:
        first.dispose()
        second.dispose()
