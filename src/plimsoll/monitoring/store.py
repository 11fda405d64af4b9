"""Monitoring's tables and every statement that reads or writes them. Each function takes an
open connection; the service owns the transaction.

`monitoring_segments` is the index of the logged rows: the Parquet files themselves are blobs
named by their content's digest, so where a segment belongs (model version, deployment, role,
day) lives here. `monitors` holds each monitor's settings and its reference (the profile itself
is a blob), `monitor_windows` each window's results per segment (its summary a blob, mergeable).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    delete,
    select,
    update,
)

from plimsoll.core.db import metadata, upsert

segments = Table(
    "monitoring_segments",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("kind", String(16), nullable=False),  # predictions, labels, outcomes
    Column("model", String(200), nullable=False),  # "" for a project's labels and outcomes
    Column("version", BigInteger, nullable=False),  # 0 unless predictions
    Column("deployment", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    Column("day", Integer, nullable=False),  # days since 1970-01-01, UTC
    Column("digest", String(64), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    Column("batch", String(64), nullable=False),  # the logger's id: a batch sent again is stored once
    Column("part", Integer, nullable=False),  # a batch's segments, one a day
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project", "batch", "part"),
    Index("ix_monitoring_segments_where", "project", "kind", "model", "version", "day"),
)

monitors = Table(
    "monitors",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("model", String(200), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("spec", Text, nullable=False),  # JSON: reference, features, window, segments, alpha, task, rules
    Column("profile_digest", String(64), nullable=False),  # the reference profile (a blob)
    Column("reference_rows", BigInteger, nullable=False),
    Column("reference_metrics", Text, nullable=False),  # JSON
    Column("created_by", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Column("last_window_end", BigInteger, nullable=False),
    Column("last_run_at", BigInteger, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("stale", Integer, nullable=False),
    UniqueConstraint("project", "name"),
)

windows = Table(
    "monitor_windows",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("monitor_id", String(32), ForeignKey("monitors.id", ondelete="CASCADE"), nullable=False),
    Column("segment", String(300), nullable=False),  # "" for all the monitor's traffic
    Column("start", BigInteger, nullable=False),
    Column("end", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("version", BigInteger, nullable=True),
    Column("summary_digest", String(64), nullable=True),  # `stats.to_bytes` of the window's summary
    Column("results", Text, nullable=False),  # JSON: drift, quality, performance, outcomes, values, signals
    Column("computed_at", BigInteger, nullable=False),
    Column("labels_at", BigInteger, nullable=False),
    UniqueConstraint("monitor_id", "segment", "start"),
    Index("ix_monitor_windows_time", "monitor_id", "start"),
)

TABLES = (segments, monitors, windows)


def batch_segments(conn: Connection, project: str, batch: str) -> list[RowMapping]:
    query = select(segments).where(segments.c.project == project, segments.c.batch == batch)
    return list(conn.execute(query.order_by(segments.c.part)).mappings())


def insert_segment(conn: Connection, row: dict[str, Any]) -> bool:
    """False when the batch's part is stored already (sent again, or by two at once)."""
    statement = upsert(conn, segments).values(**row)
    statement = statement.on_conflict_do_nothing(index_elements=["project", "batch", "part"])
    return conn.execute(statement.returning(segments.c.id)).first() is not None


def segment_rows(
    conn: Connection,
    project: str,
    kind: str,
    *,
    model: str | None,
    version: int | None,
    deployment: str | None,
    role: str | None,
    since: int | None,
    until: int | None,
    limit: int,
) -> list[RowMapping]:
    """The segments of `kind` holding rows from `since` to before `until` (epoch ms), oldest
    first, of a model (and version, deployment, role) when given."""
    query = select(segments).where(segments.c.project == project, segments.c.kind == kind)
    for column, value in (
        (segments.c.model, model),
        (segments.c.version, version),
        (segments.c.deployment, deployment),
        (segments.c.role, role),
    ):
        if value is not None:
            query = query.where(column == value)
    if since is not None:
        query = query.where(segments.c.max_ts >= since)
    if until is not None:
        query = query.where(segments.c.min_ts < until)
    order = (segments.c.day, segments.c.created_at, segments.c.batch, segments.c.part)
    return list(conn.execute(query.order_by(*order).limit(limit)).mappings())


def referenced_digests(conn: Connection) -> list[str]:
    return list(conn.execute(select(segments.c.digest).distinct()).scalars())


# -- monitors ----------------------------------------------------------------------------------------


def insert_monitor(conn: Connection, row: dict[str, Any]) -> bool:
    """False when the project has a monitor of that name already."""
    statement = (
        upsert(conn, monitors).values(**row).on_conflict_do_nothing(index_elements=["project", "name"])
    )
    return conn.execute(statement.returning(monitors.c.id)).first() is not None


def monitor_row(conn: Connection, project: str, name: str) -> RowMapping | None:
    query = select(monitors).where(monitors.c.project == project, monitors.c.name == name)
    return conn.execute(query).mappings().first()


def monitor_by_id(conn: Connection, monitor_id: str) -> RowMapping | None:
    return conn.execute(select(monitors).where(monitors.c.id == monitor_id)).mappings().first()


def monitor_rows(conn: Connection, project: str | None, model: str | None = None) -> list[RowMapping]:
    query = select(monitors)
    if project is not None:
        query = query.where(monitors.c.project == project)
    if model is not None:
        query = query.where(monitors.c.model == model)
    return list(conn.execute(query.order_by(monitors.c.project, monitors.c.name)).mappings())


def update_monitor(conn: Connection, monitor_id: str, **values: Any) -> None:
    conn.execute(update(monitors).where(monitors.c.id == monitor_id).values(**values))


def delete_monitor(conn: Connection, monitor_id: str) -> None:
    conn.execute(delete(windows).where(windows.c.monitor_id == monitor_id))
    conn.execute(delete(monitors).where(monitors.c.id == monitor_id))


# -- windows -----------------------------------------------------------------------------------------


def replace_window(conn: Connection, row: dict[str, Any]) -> None:
    """Store a window's results (computed again: replaced)."""
    conn.execute(
        delete(windows).where(
            windows.c.monitor_id == row["monitor_id"],
            windows.c.segment == row["segment"],
            windows.c.start == row["start"],
        )
    )
    conn.execute(windows.insert().values(**row))


def update_window(conn: Connection, window_id: str, **values: Any) -> None:
    conn.execute(update(windows).where(windows.c.id == window_id).values(**values))


def window_rows(
    conn: Connection,
    monitor_id: str,
    *,
    segment: str | None = "",
    since: int | None = None,
    until: int | None = None,
    limit: int = 10_000,
    newest_first: bool = False,
) -> list[RowMapping]:
    """A monitor's windows starting from `since` to before `until`, oldest first (or newest)."""
    query = select(windows).where(windows.c.monitor_id == monitor_id)
    if segment is not None:
        query = query.where(windows.c.segment == segment)
    if since is not None:
        query = query.where(windows.c.start >= since)
    if until is not None:
        query = query.where(windows.c.start < until)
    order = windows.c.start.desc() if newest_first else windows.c.start
    return list(conn.execute(query.order_by(order, windows.c.segment).limit(limit)).mappings())


def segment_values(conn: Connection, monitor_id: str) -> list[str]:
    query = select(windows.c.segment).where(windows.c.monitor_id == monitor_id).distinct()
    return sorted(conn.execute(query).scalars())


def previous_window(conn: Connection, monitor_id: str, segment: str, start: int) -> RowMapping | None:
    query = (
        select(windows)
        .where(windows.c.monitor_id == monitor_id, windows.c.segment == segment, windows.c.start < start)
        .order_by(windows.c.start.desc())
        .limit(1)
    )
    return conn.execute(query).mappings().first()


def monitor_digests(conn: Connection) -> list[str]:
    found = set(conn.execute(select(monitors.c.profile_digest)).scalars())
    found |= set(
        conn.execute(select(windows.c.summary_digest).where(windows.c.summary_digest.is_not(None))).scalars()
    )
    return sorted(found)
