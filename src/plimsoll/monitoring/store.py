"""Monitoring's tables and every statement that reads or writes them. Each function takes an
open connection; the service owns the transaction.

`monitoring_segments` is the index of the logged rows: the Parquet files themselves are blobs
named by their content's digest, so where a segment belongs (model version, deployment, role,
day) lives here.
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
    UniqueConstraint,
    select,
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

TABLES = (segments,)


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
