"""Tracking's tables, and what every tracking store module shares (`upsert` is core's)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from plimsoll.core.db import backend_index, driver_cursor, metadata, placeholder

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
    Column("deleted_at", BigInteger, nullable=True),  # purged by garbage collection after the retention
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
    # A point is stored once, however often it is sent: the guard that makes every point
    # idempotent on its own (a retried or re-split batch, a spool sent twice). It is also the index
    # history reads walk, in its order and without touching the table (store/metrics.py), so the
    # guard costs a wider index entry, not another index. NaN points have no value (NULL, and NULLs
    # are never equal), hence the second one.
    Index("uq_metric_points_point", "series_id", "step", "timestamp", "is_nan", "value", unique=True),
)
Index(
    "uq_metric_points_nan",
    metric_points.c.series_id,
    metric_points.c.step,
    metric_points.c.timestamp,
    unique=True,
    sqlite_where=metric_points.c.value.is_(None),
    postgresql_where=metric_points.c.value.is_(None),
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
# Per actor: a batch id one user sent says nothing about another's (who could otherwise burn it).
ingest_batches = Table(
    "ingest_batches",
    metadata,
    Column("actor", String(128), primary_key=True),
    Column("id", ID, primary_key=True),
    Column("run_id", ID, nullable=True),
    Column("created_at", BigInteger, nullable=False),
)


TABLES = (
    experiments,
    experiment_tags,
    runs,
    params,
    tags,
    metric_series,
    metric_points,
    latest_metrics,
    run_artifacts,
    ingest_batches,
)


def rows_for_runs(conn: Connection, sql: str, run_ids: list[str]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (with `{ids}` for the run id list) through the driver's own cursor: detail
    loading for a page of search results is thousands of small rows, where SQLAlchemy's per-row
    and IN-list processing costs more than the query."""
    sql = sql.format(ids=", ".join([placeholder(conn)] * len(run_ids)))
    with driver_cursor(conn, sql) as cursor:
        cursor.execute(sql, run_ids)
        return list(cursor.fetchall())
