"""Metric series, points and each run's latest value per key: the hot paths of ingest and history."""

from __future__ import annotations

import gc
import math
from operator import itemgetter
from typing import Any, NamedTuple

from sqlalchemy import Connection, and_, bindparam, or_, select

from plimsoll.core.db import DriverStatement, driver_cursor, placeholder, upsert
from plimsoll.core.validation import INT64_MIN
from plimsoll.tracking.store.schema import latest_metrics, metric_series, rows_for_runs


@DriverStatement
def _insert_series(conn: Connection) -> Any:
    return upsert(conn, metric_series).on_conflict_do_nothing(index_elements=["run_id", "key"])


@DriverStatement
def _upsert_latest(conn: Connection) -> Any:
    """Keep, per run and key, the point with the highest (step, timestamp)."""
    stmt = upsert(conn, latest_metrics)
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


_SERIES_OF_RUN = DriverStatement(
    lambda _conn: select(metric_series.c.key, metric_series.c.id).where(
        metric_series.c.run_id == bindparam("run_id")
    )
)


def latest_metrics_of(conn: Connection, run_ids: list[str]) -> dict[str, dict[str, float]]:
    result: dict[str, dict[str, float]] = {rid: {} for rid in run_ids}
    if run_ids:
        sql = "SELECT run_id, key, value, is_nan FROM latest_metrics WHERE run_id IN ({ids})"
        for run_id, key, value, is_nan in rows_for_runs(conn, sql, run_ids):
            result[run_id][key] = math.nan if is_nan else value
    return result


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


# No conflict target: a point already stored (uq_metric_points_point, or uq_metric_points_nan for
# NaN) is skipped, on SQLite and PostgreSQL alike.
_INSERT_POINTS = (
    "INSERT INTO metric_points (series_id, step, timestamp, value, is_nan) VALUES ({p}, {p}, {p}, {p}, {p})"
    " ON CONFLICT DO NOTHING"
)


def insert_metric_points(conn: Connection, rows: list[tuple[int, int, int, float | None, bool]]) -> None:
    """Rows of (series_id, step, timestamp, value, is_nan); a point stored before (the same series,
    step, timestamp and value) is not stored again. The hot path of ingest: plain tuples straight to
    the driver's executemany, skipping per-row parameter processing."""
    if rows:
        conn.exec_driver_sql(_INSERT_POINTS.format(p=placeholder(conn)), rows)


def upsert_latest_metrics(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Keep, per run and key, the point with the highest (step, timestamp)."""
    if not rows:
        return
    _upsert_latest.executemany(conn, rows)


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
