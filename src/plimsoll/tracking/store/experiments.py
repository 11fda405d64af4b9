"""Experiments: their rows and tags, and the few facts other checks need (state, project, run count)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, func, select

from plimsoll.core.db import DriverStatement, upsert
from plimsoll.tracking.store.schema import experiment_tags, experiments, runs

_CHUNK = 500


def _rows(conn: Connection, where: ColumnElement[bool]) -> list[dict[str, Any]]:
    query = select(experiments).where(where).order_by(experiments.c.created_at, experiments.c.id)
    return [dict(row) for row in conn.execute(query).mappings()]


def experiment_by_id(conn: Connection, experiment_id: str) -> dict[str, Any] | None:
    found = _rows(conn, experiments.c.id == experiment_id)
    return found[0] if found else None


def experiment_by_name(conn: Connection, project: str, name: str) -> dict[str, Any] | None:
    found = _rows(conn, (experiments.c.project == project) & (experiments.c.name == name))
    return found[0] if found else None


def experiments_in(conn: Connection, project: str, stages: list[str]) -> list[dict[str, Any]]:
    return _rows(conn, (experiments.c.project == project) & experiments.c.lifecycle_stage.in_(stages))


def insert_experiment(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(experiments.insert().values(**row))


def update_experiment(conn: Connection, experiment_id: str, values: dict[str, Any]) -> None:
    conn.execute(experiments.update().where(experiments.c.id == experiment_id).values(**values))


def experiment_tags_of(conn: Connection, experiment_ids: list[str]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {eid: {} for eid in experiment_ids}
    if experiment_ids:
        query = select(experiment_tags).where(experiment_tags.c.experiment_id.in_(experiment_ids))
        for row in conn.execute(query):
            result[row.experiment_id][row.key] = row.value
    return result


def set_experiment_tags(conn: Connection, experiment_id: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        stmt = upsert(conn, experiment_tags).values(experiment_id=experiment_id, key=key, value=value)
        conn.execute(
            stmt.on_conflict_do_update(index_elements=["experiment_id", "key"], set_={"value": value})
        )


def run_counts(conn: Connection, experiment_ids: list[str]) -> dict[str, int]:
    """Runs not deleted, per experiment (answered from the experiment/stage index alone)."""
    if not experiment_ids:
        return {}
    query = (
        select(runs.c.experiment_id, func.count())
        .where(runs.c.experiment_id.in_(experiment_ids), runs.c.lifecycle_stage != "deleted")
        .group_by(runs.c.experiment_id)
    )
    counts = {experiment_id: 0 for experiment_id in experiment_ids}
    counts.update({row[0]: int(row[1]) for row in conn.execute(query)})
    return counts


# On the ingest path, once per batch: compiled once and run on the driver's cursor, since
# SQLAlchemy's execution costs more than SQLite takes to run it.
_EXPERIMENT_STATE = DriverStatement(
    lambda _conn: select(experiments.c.name, experiments.c.project, experiments.c.lifecycle_stage).where(
        experiments.c.id == bindparam("experiment_id")
    )
)


def experiment_state(conn: Connection, experiment_id: str) -> tuple[str, str, str] | None:
    """(name, project, lifecycle_stage) of an experiment, if it exists."""
    rows = _EXPERIMENT_STATE.execute(conn, {"experiment_id": experiment_id})
    return None if not rows else (str(rows[0][0]), str(rows[0][1]), str(rows[0][2]))


_EXPERIMENT_PROJECTS = select(experiments.c.id, experiments.c.project).where(
    experiments.c.id.in_(bindparam("ids", expanding=True))
)


def experiment_projects(conn: Connection, experiment_ids: Iterable[str]) -> dict[str, str]:
    """The project of each of these experiments that exists, by experiment id."""
    wanted = sorted(set(experiment_ids))
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(_EXPERIMENT_PROJECTS, {"ids": wanted[start : start + _CHUNK]})
        found.update({str(row.id): str(row.project) for row in rows})
    return found


def experiment_ids_ending_with(
    conn: Connection, suffix: str, projects: Iterable[str] | None, limit: int
) -> list[tuple[str, str]]:
    """(experiment id, project) of experiments whose id ends with `suffix`, deleted ones too, in
    `projects` (None: any), at most `limit`."""
    query = (
        select(experiments.c.id, experiments.c.project)
        .where(experiments.c.id.like(f"%{suffix}"))
        .order_by(experiments.c.id)
        .limit(limit)
    )
    if projects is not None:
        query = query.where(experiments.c.project.in_(list(projects)))
    return [(str(row.id), str(row.project)) for row in conn.execute(query)]
