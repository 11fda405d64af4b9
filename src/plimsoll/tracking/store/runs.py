"""Runs: their state, params and tags, the ingest path's statements, and the details a page shows."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, delete, select

from plimsoll.core.db import DriverStatement, upsert
from plimsoll.tracking.store.metrics import latest_metrics_of
from plimsoll.tracking.store.schema import (
    experiments,
    ingest_batches,
    params,
    rows_for_runs,
    runs,
    tags,
)

_CHUNK = 500


@DriverStatement
def _insert_params(conn: Connection) -> Any:
    return upsert(conn, params).on_conflict_do_nothing(index_elements=["run_id", "key"])


@DriverStatement
def _upsert_tags(conn: Connection) -> Any:
    stmt = upsert(conn, tags)
    return stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": stmt.excluded.value})


@DriverStatement
def _claim_batch(conn: Connection) -> Any:
    stmt = upsert(conn, ingest_batches).on_conflict_do_nothing(index_elements=["actor", "id"])
    return stmt.returning(ingest_batches.c.id)


_RUN_STATE = select(runs.c.id, runs.c.status, runs.c.lifecycle_stage)
_ONE_RUN_STATE = DriverStatement(lambda _conn: _RUN_STATE.where(runs.c.id == bindparam("run_id")))
_PARAMS_OF_RUN = DriverStatement(
    lambda _conn: select(params.c.key, params.c.value).where(params.c.run_id == bindparam("run_id"))
)


def run_status(conn: Connection, run_ids: list[str]) -> dict[str, tuple[str, str]]:
    """(status, lifecycle_stage) of each run that exists."""
    if len(run_ids) == 1:
        rows = _ONE_RUN_STATE.execute(conn, {"run_id": run_ids[0]})
    else:
        rows = list(conn.execute(_RUN_STATE.where(runs.c.id.in_(run_ids))))
    return {run_id: (status, stage) for run_id, status, stage in rows}


# A run's columns in Run's field order, with its params and tags as JSON objects that the database
# aggregates: a page of 100 runs is then 100 rows that orjson decodes, not 1,500 Python tuples.
_RUN_DETAILS_SQL = """
SELECT r.id, r.experiment_id, e.name, e.project, r.name, r.status, r.start_time, r.end_time,
       r.parent_run_id, r."user", r.lifecycle_stage,
       (SELECT {object_of} FROM params WHERE run_id = r.id),
       (SELECT {object_of} FROM tags WHERE run_id = r.id)
FROM runs r JOIN experiments e ON e.id = r.experiment_id
WHERE r.id IN ({{ids}})
"""
_JSON_OBJECT_OF_KEY_VALUE = {
    "sqlite": "json_group_object(key, value)",
    "postgresql": "json_object_agg(key, value)::text",
}


def run_details(conn: Connection, run_ids: list[str]) -> list[tuple[Any, ...]]:
    """The runs that exist among `run_ids` (in no particular order), each as Run's fields in order:
    columns from id to lifecycle_stage, then params, latest metrics and tags."""
    if not run_ids:
        return []
    sql = _RUN_DETAILS_SQL.format(object_of=_JSON_OBJECT_OF_KEY_VALUE[conn.dialect.name])
    rows = rows_for_runs(conn, sql, run_ids)
    metrics = latest_metrics_of(conn, [row[0] for row in rows])
    return [(*row[:11], _json_object(row[11]), metrics[row[0]], _json_object(row[12])) for row in rows]


def _json_object(text: str | None) -> dict[str, Any]:
    return orjson.loads(text) if text else {}


def params_of_runs(conn: Connection, run_ids: list[str]) -> dict[str, dict[str, str]]:
    """All params of these runs (runs have few; the one-run case is a fixed statement)."""
    if not run_ids:
        return {}
    if len(run_ids) == 1:
        return {run_ids[0]: dict(_PARAMS_OF_RUN.execute(conn, {"run_id": run_ids[0]}))}
    result: dict[str, dict[str, str]] = {run_id: {} for run_id in run_ids}
    query = select(params.c.run_id, params.c.key, params.c.value).where(params.c.run_id.in_(run_ids))
    for row in conn.execute(query):
        result[row.run_id][row.key] = row.value
    return result


def insert_runs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        _INSERT_RUN.executemany(conn, rows)


_INSERT_RUN = DriverStatement(lambda _conn: runs.insert())
_END_RUN = DriverStatement(
    lambda _conn: (
        runs.update()
        .where(runs.c.id == bindparam("run_id"))
        .values(status=bindparam("status"), end_time=bindparam("end_time"))
    )
)


def end_runs(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Rows of run_id, status, end_time."""
    if rows:
        _END_RUN.executemany(conn, rows)


def insert_params(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        _insert_params.executemany(conn, rows)


def upsert_tags(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        _upsert_tags.executemany(conn, rows)


def delete_tags(conn: Connection, run_id: str, keys: list[str]) -> None:
    conn.execute(delete(tags).where(tags.c.run_id == run_id, tags.c.key.in_(keys)))


def set_lifecycle_stage(conn: Connection, run_id: str, stage: str, deleted_at: int | None) -> bool:
    """False when the run is gone (purged by a concurrent garbage collection)."""
    result = conn.execute(
        runs.update().where(runs.c.id == run_id).values(lifecycle_stage=stage, deleted_at=deleted_at)
    )
    return bool(result.rowcount)


def runs_deleted_before(conn: Connection, cutoff: int) -> list[tuple[str, str]]:
    """(run id, project) of every run deleted before `cutoff` (epoch ms)."""
    query = (
        select(runs.c.id, experiments.c.project)
        .select_from(runs.join(experiments, experiments.c.id == runs.c.experiment_id))
        .where(runs.c.lifecycle_stage == "deleted", runs.c.deleted_at < cutoff)
        .order_by(runs.c.deleted_at, runs.c.id)
    )
    return [(str(row.id), str(row.project)) for row in conn.execute(query)]


def purge_runs(conn: Connection, run_ids: list[str], cutoff: int) -> set[str]:
    """Delete for good those of these runs that are still deleted since before `cutoff` (one
    restored meanwhile stays); their params, tags, metrics and artifact rows go with them
    (cascade). The ids purged."""
    statement = (
        delete(runs)
        .where(runs.c.id.in_(run_ids), runs.c.lifecycle_stage == "deleted", runs.c.deleted_at < cutoff)
        .returning(runs.c.id)
    )
    return {str(run_id) for run_id in conn.execute(statement).scalars()}


def claim_batch(conn: Connection, actor: str, batch_id: str, run_id: str | None, now: int) -> bool:
    """Record `actor`'s batch id; False when that actor's batch was already applied (a retry)."""
    row = {"actor": actor, "id": batch_id, "run_id": run_id, "created_at": now}
    return bool(_claim_batch.execute(conn, row))


def prune_batches(conn: Connection, older_than: int) -> int:
    result = conn.execute(delete(ingest_batches).where(ingest_batches.c.created_at < older_than))
    return int(result.rowcount or 0)


_RUN_PROJECTS = (
    select(runs.c.id, experiments.c.project)
    .select_from(runs.join(experiments, experiments.c.id == runs.c.experiment_id))
    .where(runs.c.id.in_(bindparam("ids", expanding=True)))
)


_ONE_RUN_PROJECT = DriverStatement(
    lambda _conn: (
        select(runs.c.id, experiments.c.project)
        .select_from(runs.join(experiments, experiments.c.id == runs.c.experiment_id))
        .where(runs.c.id == bindparam("run_id"))
    )
)


def run_projects(conn: Connection, run_ids: Iterable[str]) -> dict[str, str]:
    """The project of each of these runs that exists, by run id (one run, the ending of a run on
    the synchronous path: a fixed statement)."""
    wanted = sorted(set(run_ids))
    if len(wanted) == 1:
        return {
            str(run_id): str(project)
            for run_id, project in _ONE_RUN_PROJECT.execute(conn, {"run_id": wanted[0]})
        }
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _CHUNK):
        rows = conn.execute(_RUN_PROJECTS, {"ids": wanted[start : start + _CHUNK]})
        found.update({str(row.id): str(row.project) for row in rows})
    return found


def run_ids_ending_with(
    conn: Connection, suffix: str, projects: Iterable[str] | None, limit: int
) -> list[tuple[str, str]]:
    """(run id, project) of runs whose id ends with `suffix` (lowercase hex, checked by the
    service), deleted ones too, in `projects` (None: any), at most `limit`. A suffix cannot use the
    id index: this scans the runs, which a short id typed by hand can afford."""
    query = (
        select(runs.c.id, experiments.c.project)
        .select_from(runs.join(experiments, experiments.c.id == runs.c.experiment_id))
        .where(runs.c.id.like(f"%{suffix}"))
        .order_by(runs.c.id)
        .limit(limit)
    )
    if projects is not None:
        query = query.where(experiments.c.project.in_(list(projects)))
    return [(str(row.id), str(row.project)) for row in conn.execute(query)]


def reopen_run(conn: Connection, run_id: str, ended_as: str) -> bool:
    """Set an ended run RUNNING again, without an end time; False if it is no longer `ended_as`
    (another writer got there first)."""
    result = conn.execute(
        runs.update()
        .where(runs.c.id == run_id, runs.c.status == ended_as)
        .values(status="RUNNING", end_time=None)
    )
    return bool(result.rowcount)
