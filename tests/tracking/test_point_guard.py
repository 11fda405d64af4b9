"""Every metric point is stored once, however often and under whichever batch ids it arrives."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from plimsoll.core.db import Database
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import new_id
from plimsoll.core.migrate import alembic_config, current_revisions, head_revisions
from plimsoll.platform import Platform, schema_of
from plimsoll.tracking.entities import Metric, RunCreate, RunWrites
from plimsoll.tracking.service import TrackingService


@pytest.fixture
def tracking(platform: Platform) -> TrackingService:
    return platform.tracking


def _run(tracking: TrackingService) -> str:
    experiment = tracking.get_or_create_experiment("guard", project="default", actor="t")
    run_id = new_id()
    tracking.ingest([RunWrites(run_id, create=RunCreate(experiment.id))], actor="t")
    return run_id


def test_points_sent_again_under_other_batch_ids_are_stored_once(tracking: TrackingService) -> None:
    run_id = _run(tracking)
    points = [Metric("m", float(step), step, 1000 + step) for step in range(10)]
    points += [Metric("m", math.nan, 10, 2000), Metric("m", math.inf, 11, 2000)]
    for _ in range(2):  # the same points, as a retried batch that was re-split would bring them
        tracking.log_batch(run_id, metrics=points, batch_id=new_id(), actor="t")
    tracking.log_batch(run_id, metrics=points[3:6], actor="t")  # and without any batch id
    history = tracking.get_metric_history(run_id, "m")
    assert history.steps == list(range(12))
    assert math.isnan(history.values[10]) and history.values[11] == math.inf


def test_different_points_at_one_step_are_all_kept(tracking: TrackingService) -> None:
    run_id = _run(tracking)
    points = [
        Metric("m", 1.0, 0, 1000),
        Metric("m", 2.0, 0, 1000),  # another value at the same step and millisecond
        Metric("m", 1.0, 0, 1001),  # the same value a millisecond later
        Metric("m", math.nan, 0, 1000),
        Metric("m", math.nan, 0, 1001),
    ]
    tracking.log_batch(run_id, metrics=points, batch_id=new_id(), actor="t")
    tracking.log_batch(run_id, metrics=points, batch_id=new_id(), actor="t")
    history = tracking.get_metric_history(run_id, "m")
    assert len(history.values) == 5
    assert sorted(zip(history.timestamps, map(repr, history.values), strict=True)) == sorted(
        (p.timestamp, repr(p.value)) for p in points
    )


def test_history_pages_walk_the_guard_in_step_and_time_order(
    tracking: TrackingService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages cut between points of one step and time (NaN among them) lose and repeat nothing."""
    import plimsoll.tracking.service.history as history

    monkeypatch.setattr(history, "MAX_HISTORY_POINTS", 3)
    run_id = _run(tracking)
    points = [
        Metric("m", value, step, stamp)
        for step in range(3)
        for stamp in (7, 8)
        for value in (2.0, math.nan, -1.0)
    ]
    tracking.log_batch(run_id, metrics=list(reversed(points)), actor="t")
    seen: list[tuple[int, int, str]] = []
    token = None
    while True:
        page = tracking.get_metric_history(run_id, "m", page_token=token)
        seen += [(s, t, repr(v)) for s, t, v in zip(page.steps, page.timestamps, page.values, strict=True)]
        token = page.next_page_token
        if token is None:
            break
    # Within a step and time: the numbers in order, then the NaN.
    assert seen == [(s, t, repr(v)) for s in range(3) for t in (7, 8) for v in (-1.0, 2.0, math.nan)]
    # A cursor of the old form, and tokens no page ever carried: refused, never bound as they are.
    for token in ("3:17", "1:2:x", "1:2:NaN", "\u0663:1:1.0", "1:-1:1.0", f"{2**64}:1:1.0", "1:2:3:4"):
        with pytest.raises(InvalidParameter, match="page_token"):
            tracking.get_metric_history(run_id, "m", page_token=token)


# -- the migration -------------------------------------------------------------------------------


@pytest.fixture
def fresh_database(database_url: str, tmp_path: Path) -> Iterator[Database]:
    """An empty database of the same backend that this test may migrate up and down."""
    if database_url.startswith("sqlite"):
        database = Database(f"sqlite:///{tmp_path / 'fresh.db'}")
        yield database
        database.dispose()
        return
    admin = sa.create_engine(database_url, isolation_level="AUTOCOMMIT")
    name = f"plimsoll_guard_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    database = Database(sa.engine.make_url(database_url).set(database=name).render_as_string(False))
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_the_migration_removes_points_stored_twice_before_it(fresh_database: Database) -> None:
    config = alembic_config(fresh_database, schema_of())
    command.upgrade(config, "0006")
    with fresh_database.engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO projects (name, description, created_at) VALUES ('p', '', 0)"))
        conn.execute(
            sa.text(
                "INSERT INTO experiments (id, project, name, description, lifecycle_stage, created_at,"
                " updated_at) VALUES ('e', 'p', 'e', '', 'active', 0, 0)"
            )
        )
        conn.execute(
            sa.text(
                'INSERT INTO runs (id, experiment_id, name, status, start_time, "user", lifecycle_stage)'
                " VALUES ('r', 'e', 'r', 'RUNNING', 0, 'u', 'active')"
            )
        )
        conn.execute(sa.text("INSERT INTO metric_series (id, run_id, key) VALUES (1, 'r', 'm')"))
        rows = [(0, 5, 1.0, False), (0, 5, 1.0, False), (0, 5, 2.0, False), (1, 5, None, True)]
        rows += [(1, 5, None, True), (2, 5, 1.0, False)]
        for step, stamp, value, is_nan in rows:
            conn.execute(
                sa.text(
                    "INSERT INTO metric_points (series_id, step, timestamp, value, is_nan)"
                    " VALUES (1, :s, :t, :v, :n)"
                ),
                {"s": step, "t": stamp, "v": value, "n": is_nan},
            )
    fresh_database.migrate(schema_of())
    assert current_revisions(fresh_database) == head_revisions(fresh_database, schema_of())
    with fresh_database.engine.connect() as conn:
        kept = conn.execute(sa.text("SELECT step, value FROM metric_points ORDER BY step, value")).all()
    assert [(step, value) for step, value in kept] == [(0, 1.0), (0, 2.0), (1, None), (2, 1.0)]
