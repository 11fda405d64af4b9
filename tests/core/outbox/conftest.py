"""Fixtures of the outbox tests: the tests' catalog, an outbox on each backend, a clean PostgreSQL
database, and child processes that are always killed at teardown."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
import sqlalchemy as sa
from outbox_helpers import test_catalog

from plimsoll.core.db import Database
from plimsoll.core.outbox import EventCatalog, Outbox

CHILD = Path(__file__).with_name("outbox_child.py")


@pytest.fixture
def catalog() -> EventCatalog:
    return test_catalog()


@pytest.fixture
def outbox(db: Database, catalog: EventCatalog) -> Outbox:
    return Outbox(db, catalog)


@pytest.fixture
def pg_db(postgres_url: str) -> Iterator[Database]:
    """The session's PostgreSQL database with empty outbox tables."""
    database = Database(postgres_url)
    with database.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE outbox_events, outbox_consumers, outbox_parked RESTART IDENTITY"))
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def pg_outbox(pg_db: Database, catalog: EventCatalog) -> Outbox:
    return Outbox(pg_db, catalog)


class Children:
    """Consumer processes (`outbox_child.py`); every one still running is killed at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def start(
        self, url: str, mode: str, name: str, log: Path, *, block: Path | None = None
    ) -> subprocess.Popen[bytes]:
        args = [sys.executable, str(CHILD), url, mode, name, str(log), str(block or "")]
        stderr = open(f"{log}.stderr", "ab")  # noqa: SIM115  (closed in close())
        self._files.append(stderr)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        for handle in self._files:
            handle.close()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    spawned = Children(tmp_path)
    try:
        yield spawned
    finally:
        spawned.close()
