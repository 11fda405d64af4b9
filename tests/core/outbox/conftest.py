"""Fixtures of the outbox tests: the tests' catalog, an outbox on each backend, a clean PostgreSQL
database, and child processes that are always killed at teardown."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from outbox_helpers import Children, test_catalog

from plimsoll.core.db import Database
from plimsoll.core.outbox import EventCatalog, Outbox


@pytest.fixture
def catalog() -> EventCatalog:
    return test_catalog()


@pytest.fixture
def outbox(db: Database, catalog: EventCatalog) -> Iterator[Outbox]:
    instance = Outbox(db, catalog)
    yield instance
    instance.close()


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
def pg_outbox(pg_db: Database, catalog: EventCatalog) -> Iterator[Outbox]:
    instance = Outbox(pg_db, catalog)
    yield instance
    instance.close()


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    spawned = Children(tmp_path)
    try:
        yield spawned
    finally:
        spawned.close()
