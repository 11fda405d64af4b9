"""The evaluation capability's table and every statement that reads or writes it. Each function
takes an open connection; the service owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    ForeignKey,
    Index,
    RowMapping,
    String,
    Table,
    Text,
    select,
)

from plimsoll.core.db import metadata

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("task", String(32), nullable=False),
    Column("model_name", String(200), nullable=True),  # the model version evaluated, if named
    Column("model_version", BigInteger, nullable=True),
    Column("dataset", Text, nullable=True),  # NAME@VERSION
    Column("rows", BigInteger, nullable=False),
    Column("labels_digest", String(64), nullable=False),
    Column("body", Text, nullable=False),  # JSON: metrics, slices, fairness, curves, latency, cost
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_evaluations_project_created_at", "project", "created_at"),
    Index("ix_evaluations_project_model", "project", "model_name", "model_version"),
)

TABLES = (evaluations,)


def insert(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(evaluations.insert().values(**row))


def row(conn: Connection, project: str, evaluation_id: str) -> RowMapping | None:
    query = select(evaluations).where(evaluations.c.project == project, evaluations.c.id == evaluation_id)
    return conn.execute(query).mappings().first()


def rows(
    conn: Connection,
    project: str,
    *,
    model_name: str | None,
    model_version: int | None,
    dataset: str | None,
    limit: int,
) -> list[RowMapping]:
    """The project's evaluations, newest first, of a model (or one of its versions) or a dataset
    version if given."""
    query = select(evaluations).where(evaluations.c.project == project)
    if model_name is not None:
        query = query.where(evaluations.c.model_name == model_name)
    if model_version is not None:
        query = query.where(evaluations.c.model_version == model_version)
    if dataset is not None:
        query = query.where(evaluations.c.dataset == dataset)
    query = query.order_by(evaluations.c.created_at.desc(), evaluations.c.id.desc()).limit(limit)
    return list(conn.execute(query).mappings())
