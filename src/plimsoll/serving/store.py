"""The serving capability's tables and every statement that reads or writes them. Each function
takes an open connection; the service owns the transaction.

`serving_deployments` holds one row per deployment (unique per project and name), its policy as
JSON; `serving_history` is appended to, one line per change; `serving_traffic` holds what replicas
report, one row per deployment, version, role, replica and period (`TRAFFIC_PERIOD_MS`, aligned on
the epoch), a report adding to its period's row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    insert,
    select,
    update,
)

from plimsoll.core.db import metadata

ID = String(32)
NAME = String(200)
USER = String(128)
PROJECT = String(128)
STATE = String(16)
TRAFFIC_PERIOD_MS = 10_000

deployments = Table(
    "serving_deployments",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),
    Column("name", NAME, nullable=False),
    Column("environment", NAME, nullable=False),
    Column("model", NAME, nullable=False),
    Column("alias", String(64), nullable=False),
    Column("follows", Boolean, nullable=False),
    Column("stable", BigInteger, nullable=True),
    Column("canary", BigInteger, nullable=True),
    Column("canary_weight", Float, nullable=False),
    Column("shadow", BigInteger, nullable=True),
    Column("sticky_key", String(200), nullable=True),
    Column("policy", Text, nullable=False),  # RolloutPolicy as JSON
    Column("state", STATE, nullable=False),
    Column("step", Integer, nullable=False),
    Column("step_started_at", BigInteger, nullable=True),
    Column("reason", Text, nullable=False),
    Column("decision", ID, nullable=True),
    Column("paused_by", USER, nullable=True),
    Column("revision", BigInteger, nullable=False),
    Column("created_by", USER, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    UniqueConstraint("project", "name", name="uq_serving_deployments_project_name"),
    Index("ix_serving_deployments_project_model_alias", "project", "model", "alias"),
    Index("ix_serving_deployments_state", "state"),
)

history = Table(
    "serving_history",
    metadata,
    Column("id", ID, primary_key=True),
    Column("deployment_id", ID, nullable=False),
    Column("seq", BigInteger, nullable=False),  # the line's place in its deployment's history, from 1
    Column("at", BigInteger, nullable=False),
    Column("actor", USER, nullable=False),
    Column("action", String(32), nullable=False),
    Column("before", Text, nullable=False),  # JSON
    Column("after", Text, nullable=False),  # JSON
    Column("reason", Text, nullable=False),
    Column("analysis", Text, nullable=True),  # JSON: the rollout analysis behind it
    Column("decision", ID, nullable=True),
    UniqueConstraint("deployment_id", "seq", name="uq_serving_history_deployment_id_seq"),
)

traffic = Table(
    "serving_traffic",
    metadata,
    Column("deployment_id", ID, primary_key=True),
    Column("version", BigInteger, primary_key=True),
    Column("role", STATE, primary_key=True),
    Column("replica", String(200), primary_key=True),
    Column("period_start", BigInteger, primary_key=True),  # epoch ms, a multiple of TRAFFIC_PERIOD_MS
    Column("requests", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("latency_counts", Text, nullable=False),  # JSON list: LATENCY_BUCKETS_MS + overflow
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_serving_traffic_deployment_id_period_start", "deployment_id", "period_start"),
)

TABLES = (deployments, history, traffic)


# -- deployments -----------------------------------------------------------------------------------


def deployment_row(conn: Connection, project: str, name: str, *, lock: bool = False) -> RowMapping | None:
    query = select(deployments).where(deployments.c.project == project, deployments.c.name == name)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def deployment_by_id(conn: Connection, deployment_id: str, *, lock: bool = False) -> RowMapping | None:
    query = select(deployments).where(deployments.c.id == deployment_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def deployment_rows(
    conn: Connection,
    project: str,
    *,
    model: str | None = None,
    environment: str | None = None,
    limit: int = 1000,
) -> list[RowMapping]:
    query = select(deployments).where(deployments.c.project == project)
    if model is not None:
        query = query.where(deployments.c.model == model)
    if environment is not None:
        query = query.where(deployments.c.environment == environment)
    return list(conn.execute(query.order_by(deployments.c.name).limit(limit)).mappings())


def following(conn: Connection, project: str, model: str, alias: str) -> list[RowMapping]:
    """The deployments that follow `model@alias`, locked for the change."""
    query = (
        select(deployments)
        .where(
            deployments.c.project == project,
            deployments.c.model == model,
            deployments.c.alias == alias,
            deployments.c.follows.is_(True),
        )
        .order_by(deployments.c.id)
        .with_for_update()
    )
    return list(conn.execute(query).mappings())


def rolling_ids(conn: Connection, states: Sequence[str]) -> list[str]:
    """The ids of every deployment (of every project) in one of `states`."""
    query = select(deployments.c.id).where(deployments.c.state.in_(list(states))).order_by(deployments.c.id)
    return [str(row[0]) for row in conn.execute(query)]


def insert_deployment(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(deployments).values(**values))


def update_deployment(conn: Connection, deployment_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(deployments).where(deployments.c.id == deployment_id).values(**values))


# -- history ---------------------------------------------------------------------------------------


def append_history(conn: Connection, values: dict[str, Any]) -> None:
    """A line after the deployment's last (its row is locked by the caller, so `seq` is free)."""
    last = conn.execute(
        select(history.c.seq)
        .where(history.c.deployment_id == values["deployment_id"])
        .order_by(history.c.seq.desc())
        .limit(1)
    ).scalar()
    conn.execute(insert(history).values(**values, seq=int(last or 0) + 1))


def history_rows(conn: Connection, deployment_id: str, *, limit: int) -> list[RowMapping]:
    """The newest lines first."""
    query = (
        select(history)
        .where(history.c.deployment_id == deployment_id)
        .order_by(history.c.seq.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


# -- traffic ---------------------------------------------------------------------------------------


def traffic_row(
    conn: Connection, deployment_id: str, version: int, role: str, replica: str, period_start: int
) -> RowMapping | None:
    query = select(traffic).where(
        traffic.c.deployment_id == deployment_id,
        traffic.c.version == version,
        traffic.c.role == role,
        traffic.c.replica == replica,
        traffic.c.period_start == period_start,
    )
    return conn.execute(query.with_for_update()).mappings().first()


def insert_traffic(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(traffic).values(**values))


def update_traffic(conn: Connection, key: dict[str, Any], values: dict[str, Any]) -> None:
    conditions = [traffic.c[name] == value for name, value in key.items()]
    conn.execute(update(traffic).where(*conditions).values(**values))


def traffic_rows(conn: Connection, deployment_id: str, since: int, until: int) -> list[RowMapping]:
    """Every replica's rows of the periods starting within [since, until), oldest first."""
    query = (
        select(traffic)
        .where(
            traffic.c.deployment_id == deployment_id,
            traffic.c.period_start >= since,
            traffic.c.period_start < until,
        )
        .order_by(traffic.c.period_start, traffic.c.version, traffic.c.role, traffic.c.replica)
    )
    return list(conn.execute(query).mappings())
