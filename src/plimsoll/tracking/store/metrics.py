"""Metric series, points and each run's latest value per key: the hot paths of ingest and history."""

from __future__ import annotations

import gc
import math
from collections.abc import Sequence
from operator import itemgetter
from typing import Any, NamedTuple, cast

from sqlalchemy import Connection, and_, bindparam, exists, or_, select

from plimsoll.core.db import DriverStatement, driver_cursor, placeholder, upsert
from plimsoll.tracking.store.schema import latest_metrics, metric_points, metric_series, rows_for_runs


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


def keys_with_history_of(conn: Connection, run_id: str) -> list[str]:
    return keys_with_history_by_run(conn, [run_id]).get(run_id, [])


def keys_with_history_by_run(conn: Connection, run_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each run's metric keys that have a second point, in one query (runs without any are left
    out). The check stops at that second point (EXISTS over OFFSET 1), so a key with a million
    points costs no more than one with two."""
    if not run_ids:
        return {}
    second_point = (
        select(metric_points.c.id)
        .where(metric_points.c.series_id == metric_series.c.id)
        .offset(1)
        .limit(1)
        .correlate(metric_series)
    )
    query = (
        select(metric_series.c.run_id, metric_series.c.key)
        .where(metric_series.c.run_id.in_(list(run_ids)), exists(second_point))
        .order_by(metric_series.c.run_id, metric_series.c.key)
    )
    keys: dict[str, list[str]] = {}
    for run_id, key in conn.execute(query):
        keys.setdefault(run_id, []).append(key)
    return keys


class PointColumns(NamedTuple):
    steps: list[int]
    timestamps: list[int]
    values: list[float]


# Where a point stands in a history: (step, timestamp, is_nan, value). It is the order of
# uq_metric_points_point, so a read is an index-only walk with no sort, and a total order: the guard
# stores no two points equal in it, and a NaN (value NULL) is the only NaN of its step and time,
# so its NULL is never compared. A page cursor is the key of the point before the page.
PointKey = tuple[int, int, bool, float | None]

_ORDER = " ORDER BY step, timestamp, is_nan, value"
_FROM = " FROM metric_points WHERE series_id = {p}"
# Row values compare left to right and stop at the first difference, so after a NaN's key the
# comparison must stop before its NULL value.
_AFTER_POINT = " AND (step, timestamp, is_nan, value) > ({p}, {p}, {p}, {p})"
_AFTER_NAN = " AND (step, timestamp, is_nan) > ({p}, {p}, {p})"


def _points_sql(
    conn: Connection, columns: str, after: PointKey | None, tail: str
) -> tuple[str, tuple[Any, ...]]:
    where, params = "", cast(tuple[Any, ...], ())
    if after is not None:
        is_nan = bool(after[2])
        where, params = (_AFTER_NAN, after[:3]) if is_nan else (_AFTER_POINT, after)
    sql = "SELECT " + columns + _FROM + where + _ORDER + tail
    return sql.format(p=placeholder(conn)), params


def read_metric_points(
    conn: Connection, run_id: str, key: str, *, after: PointKey | None, limit: int
) -> PointColumns:
    """Points in (step, timestamp) order after a cursor, as columns. The hot path of reading long
    histories: driver tuples transposed in C, no per-row objects."""
    series_id = _series_id(conn, run_id, key)
    if series_id is None:
        return PointColumns([], [], [])
    # Not is_nan: a point's value is NULL exactly when it is NaN, and each column fetched is ~15 %
    # of a 100,000-point read. The driver's own cursor: SQLAlchemy's result wrapping triples the
    # cost of 100,000 rows. The cyclic GC is paused meanwhile: those rows are plain tuples it would
    # scan again and again.
    sql, params = _points_sql(conn, "step, timestamp, value", after, " LIMIT {p}")
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        with driver_cursor(conn, sql) as cursor:
            cursor.execute(sql, (series_id, *params, limit))
            rows = cursor.fetchall()
        steps, stamps, values = (list(map(itemgetter(i), rows)) for i in range(3))
    finally:
        if gc_was_on:
            gc.enable()
    if None in values:
        values = [math.nan if value is None else value for value in values]
    return PointColumns(steps, stamps, values)


def point_cursor(conn: Connection, run_id: str, key: str, *, after: PointKey | None, offset: int) -> PointKey:
    """The key of the point `offset` places after a cursor: where the next page starts. Run only
    when a history is longer than a page, in the same read (one snapshot) as the page; an
    index-only walk."""
    series_id = _series_id(conn, run_id, key)
    sql, params = _points_sql(conn, "step, timestamp, is_nan, value", after, " LIMIT 1 OFFSET {p}")
    step, stamp, is_nan, value = conn.exec_driver_sql(sql, (series_id, *params, offset)).one()
    return int(step), int(stamp), bool(is_nan), None if value is None else float(value)


def _series_id(conn: Connection, run_id: str, key: str) -> int | None:
    series = select(metric_series.c.id).where(metric_series.c.run_id == run_id, metric_series.c.key == key)
    return conn.execute(series).scalar_one_or_none()
