"""Tracking tables and the SQL that reads and writes them. Nothing else writes these tables."""

from __future__ import annotations

import gc
import math
from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plimsoll.core.db import DriverStatement, backend_index, driver_cursor, metadata, placeholder
from plimsoll.core.validation import INT64_MIN

ID = String(32)
KEY = String(250)

experiments = Table(
    "experiments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("lifecycle_stage", String(16), nullable=False, default="active"),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project", "name"),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column("experiment_id", ID, ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    sqlite_with_rowid=False,
)

runs = Table(
    "runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("experiment_id", ID, ForeignKey("experiments.id"), nullable=False),
    Column("name", String(256), nullable=False),
    Column("status", String(16), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("parent_run_id", ID, nullable=True, index=True),
    Column("user", String(128), nullable=False),
    Column("lifecycle_stage", String(16), nullable=False, default="active"),
    Index("ix_runs_experiment_start", "experiment_id", "start_time"),
    # Covers a filtered search's scan of an experiment's runs: no row look-up per run.
    Index("ix_runs_experiment_stage_id", "experiment_id", "lifecycle_stage", "id"),
)

params = Table(
    "params",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    # The value again as a number when it is one, so that `params.lr > 0.01` compares numerically.
    Column("num_value", Float, nullable=True),
    # Where a search starts when a param equality is its most selective condition (tracking/search.py:
    # choose_driver). SQLite only: PostgreSQL plans searches from its own statistics, and its b-tree
    # entries cannot hold values up to MAX_PARAM_VALUE_LENGTH.
    backend_index("sqlite", "ix_params_key_value", "key", "value"),
    # Clustered on its primary key in SQLite: a search probe finds the value in one b-tree
    # descent, not an index look-up and then a row look-up.
    sqlite_with_rowid=False,
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("value", Text, nullable=False),
    backend_index("sqlite", "ix_tags_key_value", "key", "value"),  # as params
    # Clustered on its primary key in SQLite, as params.
    sqlite_with_rowid=False,
)

# One row per (run, metric key); points refer to it by a small integer, which keeps the points'
# index compact: inserts and history reads touch a few bytes per point instead of run id + key.
metric_series = Table(
    "metric_series",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", KEY, nullable=False),
    UniqueConstraint("run_id", "key"),
)

metric_points = Table(
    "metric_points",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column(
        "series_id",
        Integer().with_variant(BigInteger(), "postgresql"),
        ForeignKey("metric_series.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    # NULL when is_nan: SQLite cannot store NaN (it reads back as NULL), so NaN is a flag.
    Column("value", Float, nullable=True),
    Column("is_nan", Boolean, nullable=False, default=False),
    Index("ix_metric_points_series_step", "series_id", "step"),
)

latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", KEY, primary_key=True),
    Column("step", BigInteger, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Column("is_nan", Boolean, nullable=False, default=False),
    Index("ix_latest_metrics_key_value", "key", "value"),
    # Clustered on its primary key in SQLite: a search probe finds the value in one b-tree
    # descent, not an index look-up and then a row look-up.
    sqlite_with_rowid=False,
)

run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", ID, ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

# Client-generated ids of write batches already applied: a retried batch is acknowledged, not re-applied.
ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("id", ID, primary_key=True),
    Column("run_id", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)


# ---------------------------------------------------------------------------------------------
# Queries. Each takes an open connection; the service owns the transaction.


def _upsert(conn: Connection, table: Table) -> Any:
    return pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)


@DriverStatement
def _insert_params(conn: Connection) -> Any:
    return _upsert(conn, params).on_conflict_do_nothing(index_elements=["run_id", "key"])


@DriverStatement
def _upsert_tags(conn: Connection) -> Any:
    stmt = _upsert(conn, tags)
    return stmt.on_conflict_do_update(index_elements=["run_id", "key"], set_={"value": stmt.excluded.value})


@DriverStatement
def _insert_series(conn: Connection) -> Any:
    return _upsert(conn, metric_series).on_conflict_do_nothing(index_elements=["run_id", "key"])


@DriverStatement
def _upsert_latest(conn: Connection) -> Any:
    """Keep, per run and key, the point with the highest (step, timestamp)."""
    stmt = _upsert(conn, latest_metrics)
    newer = or_(
        stmt.excluded.step > latest_metrics.c.step,
        and_(
            stmt.excluded.step == latest_metrics.c.step, stmt.excluded.timestamp >= latest_metrics.c.timestamp
        ),
    )
    return stmt.on_conflict_do_update(
        index_elements=["run_id", "key"],
        set_={
            "step": stmt.excluded.step,
            "timestamp": stmt.excluded.timestamp,
            "value": stmt.excluded.value,
            "is_nan": stmt.excluded.is_nan,
        },
        where=newer,
    )


@DriverStatement
def _claim_batch(conn: Connection) -> Any:
    stmt = _upsert(conn, ingest_batches).on_conflict_do_nothing(index_elements=["id"])
    return stmt.returning(ingest_batches.c.id)


def experiment_rows(conn: Connection, where: ColumnElement[bool]) -> list[RowMapping]:
    query = select(experiments).where(where).order_by(experiments.c.created_at, experiments.c.id)
    return list(conn.execute(query).mappings())


def experiment_tags_of(conn: Connection, experiment_ids: list[str]) -> dict[str, dict[str, str]]:
    result: dict[str, dict[str, str]] = {eid: {} for eid in experiment_ids}
    if experiment_ids:
        query = select(experiment_tags).where(experiment_tags.c.experiment_id.in_(experiment_ids))
        for row in conn.execute(query):
            result[row.experiment_id][row.key] = row.value
    return result


def set_experiment_tags(conn: Connection, experiment_id: str, values: dict[str, str]) -> None:
    for key, value in values.items():
        stmt = _upsert(conn, experiment_tags).values(experiment_id=experiment_id, key=key, value=value)
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


# Statements on the ingest path are built once, with bound parameters: building a select costs
# more than SQLite takes to run it.
_EXPERIMENT_STATE = select(experiments.c.name, experiments.c.project, experiments.c.lifecycle_stage).where(
    experiments.c.id == bindparam("experiment_id")
)


def experiment_state(conn: Connection, experiment_id: str) -> tuple[str, str, str] | None:
    """(name, project, lifecycle_stage) of an experiment, if it exists."""
    row = conn.execute(_EXPERIMENT_STATE, {"experiment_id": experiment_id}).first()
    return None if row is None else (row.name, row.project, row.lifecycle_stage)


_RUN_STATE = select(runs.c.id, runs.c.status, runs.c.lifecycle_stage)
_ONE_RUN_STATE = DriverStatement(lambda _conn: _RUN_STATE.where(runs.c.id == bindparam("run_id")))
_SERIES_OF_RUN = DriverStatement(
    lambda _conn: select(metric_series.c.key, metric_series.c.id).where(
        metric_series.c.run_id == bindparam("run_id")
    )
)
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


def _rows_for_runs(conn: Connection, sql: str, run_ids: list[str]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (with `{ids}` for the run id list) through the driver's own cursor: detail
    loading for a page of search results is thousands of small rows, where SQLAlchemy's per-row
    and IN-list processing costs more than the query."""
    sql = sql.format(ids=", ".join([placeholder(conn)] * len(run_ids)))
    with driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, run_ids)
        return list(cursor.fetchall())


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
    rows = _rows_for_runs(conn, sql, run_ids)
    metrics = latest_metrics_of(conn, [row[0] for row in rows])
    return [(*row[:11], _json_object(row[11]), metrics[row[0]], _json_object(row[12])) for row in rows]


def _json_object(text: str | None) -> dict[str, Any]:
    return orjson.loads(text) if text else {}


def latest_metrics_of(conn: Connection, run_ids: list[str]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
    if run_ids:
        sql = "SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ({ids})"
        for run_id, key, value, is_nan in _rows_for_runs(conn, sql, run_ids):
            result[run_id][key] = math.nan if is_nan else value
    return result


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


def series_ids(
    conn: Connection, wanted: set[tuple[str, str]], *, known_new: set[str]
) -> dict[tuple[str, str], int]:
    """The series id of each (run, key), created for keys seen the first time. Runs in `known_new`
    were created in this transaction, so they have no series to look up first."""
    runs_with_series = sorted({run_id for run_id, _key in wanted} - known_new)
    found = _series_of_runs(conn, runs_with_series)
    missing = [{"run_id": run_id, "key": key} for run_id, key in sorted(wanted) if (run_id, key) not in found]
    if missing:
        _insert_series.executemany(conn, missing)
        found.update(_series_of_runs(conn, sorted({row["run_id"] for row in missing})))
    return found


def _series_of_runs(conn: Connection, run_ids: list[str]) -> dict[tuple[str, str], int]:
    if not run_ids:
        return {}
    if len(run_ids) == 1:
        return {
            (run_ids[0], key): series_id
            for key, series_id in _SERIES_OF_RUN.execute(conn, {"run_id": run_ids[0]})
        }
    query = select(metric_series.c.run_id, metric_series.c.key, metric_series.c.id)
    rows = conn.execute(query.where(metric_series.c.run_id.in_(run_ids)))
    return {(row.run_id, row.key): row.id for row in rows}


_INSERT_POINTS = (
    "INSERT INTO metric_points (series_id, step, timestamp, value, is_nan) VALUES ({p}, {p}, {p}, {p}, {p})"
)


def insert_metric_points(conn: Connection, rows: list[tuple[int, int, int, float | None, bool]]) -> None:
    """Rows of (series_id, step, timestamp, value, is_nan). The hot path of ingest: plain tuples
    straight to the driver's executemany, skipping per-row parameter processing."""
    if rows:
        conn.exec_driver_sql(_INSERT_POINTS.format(p=placeholder(conn)), rows)


def upsert_latest_metrics(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Keep, per run and key, the point with the highest (step, timestamp)."""
    if not rows:
        return
    _upsert_latest.executemany(conn, rows)


def claim_batch(conn: Connection, batch_id: str, run_id: str | None, now: int) -> bool:
    """Record a batch id; False when it was already applied (a retry)."""
    return bool(_claim_batch.execute(conn, {"id": batch_id, "run_id": run_id, "created_at": now}))


def prune_batches(conn: Connection, older_than: int) -> int:
    result = conn.execute(delete(ingest_batches).where(ingest_batches.c.created_at < older_than))
    return int(result.rowcount or 0)


def metric_keys_of(conn: Connection, run_id: str) -> list[str]:
    query = (
        select(latest_metrics.c.key).where(latest_metrics.c.run_id == run_id).order_by(latest_metrics.c.key)
    )
    return list(conn.execute(query).scalars())


class PointColumns(NamedTuple):
    steps: list[int]
    timestamps: list[int]
    values: list[float]


# Neither is_nan nor id: a point's value is NULL exactly when it is NaN, and each column fetched is
# ~15 % of a 100,000-point read. The id only breaks ties for a page cursor (point_cursor).
_POINTS_AFTER = " FROM metric_points WHERE series_id = {p} AND (step > {p} OR (step = {p} AND id > {p}))"
_SELECT_POINTS = "SELECT step, timestamp, value" + _POINTS_AFTER + " ORDER BY step, id LIMIT {p}"
_POINT_AT = "SELECT step, id" + _POINTS_AFTER + " ORDER BY step, id LIMIT 1 OFFSET {p}"


def read_metric_points(
    conn: Connection, run_id: str, key: str, *, after: tuple[int, int] | None, limit: int
) -> PointColumns:
    """Points in (step, id) order after a (step, id) cursor, as columns. The hot path of reading
    long histories: driver tuples transposed in C, no per-row objects."""
    series_id = _series_id(conn, run_id, key)
    if series_id is None:
        return PointColumns([], [], [])
    # The driver's own cursor: SQLAlchemy's result wrapping triples the cost of 100,000 rows. The
    # cyclic GC is paused meanwhile: those rows are plain tuples it would scan again and again.
    sql = _SELECT_POINTS.format(p=placeholder(conn))
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        with driver_cursor(conn, sql) as cursor:
            cursor.execute(sql, (series_id, *_after(after), limit))
            rows = cursor.fetchall()
        steps, stamps, values = (list(map(itemgetter(i), rows)) for i in range(3))
    finally:
        if gc_was_on:
            gc.enable()
    if None in values:
        values = [math.nan if value is None else value for value in values]
    return PointColumns(steps, stamps, values)


def point_cursor(
    conn: Connection, run_id: str, key: str, *, after: tuple[int, int] | None, offset: int
) -> tuple[int, int]:
    """The (step, id) of the point `offset` places after a cursor: where the next page starts.
    Run only when a history is longer than a page, in the same read (one snapshot) as the page;
    on SQLite an index-only walk (its index entries carry the row id)."""
    series_id = _series_id(conn, run_id, key)
    row = conn.exec_driver_sql(
        _POINT_AT.format(p=placeholder(conn)), (series_id, *_after(after), offset)
    ).one()
    return int(row[0]), int(row[1])


def _series_id(conn: Connection, run_id: str, key: str) -> int | None:
    series = select(metric_series.c.id).where(metric_series.c.run_id == run_id, metric_series.c.key == key)
    return conn.execute(series).scalar_one_or_none()


def _after(cursor: tuple[int, int] | None) -> tuple[int, int, int]:
    step, point_id = cursor if cursor is not None else (INT64_MIN, -1)
    return step, step, point_id


def upsert_artifact(conn: Connection, row: dict[str, Any]) -> None:
    stmt = _upsert(conn, run_artifacts).values(**row)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["run_id", "path"],
            set_={"digest": row["digest"], "size": row["size"], "created_at": row["created_at"]},
        )
    )


def artifact_rows(conn: Connection, run_id: str, prefix: str | None) -> list[RowMapping]:
    query = select(run_artifacts).where(run_artifacts.c.run_id == run_id)
    if prefix:
        query = query.where(
            or_(
                run_artifacts.c.path == prefix, run_artifacts.c.path.startswith(prefix + "/", autoescape=True)
            )
        )
    return list(conn.execute(query.order_by(run_artifacts.c.path)).mappings())
