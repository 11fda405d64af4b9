"""DriverStatement: Core statements run on the driver's cursor, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from plimsoll.core.db import Database, DriverStatement
from plimsoll.core.errors import Conflict
from plimsoll.tracking.store.schema import ingest_batches, runs

INSERT_BATCH = DriverStatement(lambda _conn: ingest_batches.insert())
# LIMIT 2 is a value the statement binds itself, beside the caller's parameters.
BATCHES_AFTER = DriverStatement(
    lambda _conn: select(ingest_batches.c.id).where(ingest_batches.c.created_at > 0).order_by("id").limit(2)
)


def _batch(n: int) -> dict[str, object]:
    return {"actor": "local", "id": f"{n:032x}", "run_id": None, "created_at": n + 1}


def test_rows_go_in_and_come_back(db: Database) -> None:
    with db.write() as conn:
        INSERT_BATCH.executemany(conn, [_batch(n) for n in range(3)])
    with db.read() as conn:
        assert BATCHES_AFTER.execute(conn, {}) == [(f"{0:032x}",), (f"{1:032x}",)]


def test_a_driver_error_is_sqlalchemys_and_a_write_conflict(db: Database) -> None:
    with db.write() as conn:
        INSERT_BATCH.execute(conn, _batch(1))
    with pytest.raises(IntegrityError), db.engine.begin() as conn:
        INSERT_BATCH.execute(conn, _batch(1))
    with pytest.raises(Conflict), db.write() as conn:
        INSERT_BATCH.executemany(conn, [_batch(2), _batch(1)])
    with db.read() as conn:  # the failed batch rolled back whole; the connection is still good
        assert BATCHES_AFTER.execute(conn, {}) == [(f"{1:032x}",)]


def test_a_statement_that_needs_sqlalchemy_at_execution_is_refused(db: Database) -> None:
    """`runs.lifecycle_stage` has a Python-side default: left out, it would be stored as NULL."""
    insert_run = DriverStatement(lambda _conn: runs.insert())
    row = {"id": "a" * 32, "experiment_id": "b" * 32, "name": "r", "status": "RUNNING", "start_time": 0}
    with pytest.raises(TypeError, match="needs SQLAlchemy"), db.write() as conn:
        insert_run.execute(conn, row)
