"""Release gates' tables and every statement that reads or writes them. Each function takes an
open connection; the service owns the transaction.

A decision is stored as the canonical JSON its signature covers (`body`), with the fields a query
needs copied into columns; reading one checks both against the signature (the service does)."""

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
    delete,
    select,
    update,
)

from plimsoll.core.db import metadata, upsert

ID = String(32)
DIGEST = String(64)
NAME = String(200)
ALIAS = String(64)
USER = String(128)
PROJECT = String(128)

# The policy that guards each alias of a model: set by the project's admins.
gate_policies = Table(
    "gate_policies",
    metadata,
    Column("project", PROJECT, ForeignKey("projects.name"), primary_key=True),
    Column("model", NAME, primary_key=True),
    Column("alias", ALIAS, primary_key=True),
    Column("text", Text, nullable=False),
    Column("digest", DIGEST, nullable=False),
    Column("set_by", USER, nullable=False),
    Column("set_at", BigInteger, nullable=False),
)

gate_decisions = Table(
    "gate_decisions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, ForeignKey("projects.name"), nullable=False),
    Column("model", NAME, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("alias", ALIAS, nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("promotion_id", ID, nullable=True, index=True),
    Column("created_at", BigInteger, nullable=False),
    Column("body", Text, nullable=False),  # the canonical JSON the signature covers
    Column("key_id", String(16), nullable=False),
    Column("signature", String(64), nullable=False),
    Index("ix_gate_decisions_project_model_version", "project", "model", "version"),
)

gate_promotions = Table(
    "gate_promotions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, ForeignKey("projects.name"), nullable=False),
    Column("model", NAME, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("alias", ALIAS, nullable=False),
    Column("status", String(24), nullable=False),
    Column("requested_by", USER, nullable=False),
    Column("requested_at", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("policy", Text, nullable=False),  # the policy's text when it was requested
    Column("evidence", Text, nullable=True),  # JSON: the evidence the request carried, if any
    Column("approvals_required", Integer, nullable=False),
    Column("decision_id", ID, nullable=True),
    Column("job_id", ID, nullable=True),
    Column("closed_by", USER, nullable=True),
    Column("closed_at", BigInteger, nullable=True),
    Column("outcome", Text, nullable=False),
    Index("ix_gate_promotions_project_model_alias", "project", "model", "alias", "requested_at"),
)

# At most one open promotion per alias: the row is the slot, taken at request, freed at the end.
gate_open_promotions = Table(
    "gate_open_promotions",
    metadata,
    Column("project", PROJECT, primary_key=True),
    Column("model", NAME, primary_key=True),
    Column("alias", ALIAS, primary_key=True),
    Column("promotion_id", ID, nullable=False),
)

gate_approvals = Table(
    "gate_approvals",
    metadata,
    Column("promotion_id", ID, ForeignKey("gate_promotions.id"), primary_key=True),
    Column("approver", USER, primary_key=True),
    Column("comment", Text, nullable=False),
    Column("approved_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
)

gate_waivers = Table(
    "gate_waivers",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, ForeignKey("projects.name"), nullable=False),
    Column("model", NAME, nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("alias", ALIAS, nullable=False),
    Column("gate", String(100), nullable=False),
    Column("reason", Text, nullable=False),
    Column("approver", USER, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_gate_waivers_project_model_version_alias", "project", "model", "version", "alias"),
)

TABLES = (gate_policies, gate_decisions, gate_promotions, gate_open_promotions, gate_approvals, gate_waivers)


# --- policies -------------------------------------------------------------------------------------


def policy_row(conn: Connection, project: str, model: str, alias: str) -> RowMapping | None:
    query = select(gate_policies).where(
        gate_policies.c.project == project, gate_policies.c.model == model, gate_policies.c.alias == alias
    )
    return conn.execute(query).mappings().first()


def put_policy(conn: Connection, row: dict[str, Any]) -> None:
    values = {key: row[key] for key in ("text", "digest", "set_by", "set_at")}
    statement = upsert(conn, gate_policies).values(**row)
    conn.execute(statement.on_conflict_do_update(index_elements=["project", "model", "alias"], set_=values))


def delete_policy(conn: Connection, project: str, model: str, alias: str) -> bool:
    statement = delete(gate_policies).where(
        gate_policies.c.project == project, gate_policies.c.model == model, gate_policies.c.alias == alias
    )
    return bool(conn.execute(statement.returning(gate_policies.c.alias)).first())


# --- decisions ------------------------------------------------------------------------------------


def insert_decision(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(gate_decisions.insert().values(**row))


def update_decision(conn: Connection, decision_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(gate_decisions).where(gate_decisions.c.id == decision_id).values(**values))


def decision_row(conn: Connection, decision_id: str) -> RowMapping | None:
    return conn.execute(select(gate_decisions).where(gate_decisions.c.id == decision_id)).mappings().first()


def decision_rows(
    conn: Connection,
    project: str,
    model: str | None = None,
    version: int | None = None,
    *,
    limit: int = 100,
    after: tuple[int, str] | None = None,
) -> list[RowMapping]:
    """Newest first; with `after` (created_at, id), those older than it (the next page)."""
    query = select(gate_decisions).where(gate_decisions.c.project == project)
    if model is not None:
        query = query.where(gate_decisions.c.model == model)
    if version is not None:
        query = query.where(gate_decisions.c.version == version)
    if after is not None:
        at, last = after
        query = query.where(
            (gate_decisions.c.created_at < at)
            | ((gate_decisions.c.created_at == at) & (gate_decisions.c.id < last))
        )
    order = (gate_decisions.c.created_at.desc(), gate_decisions.c.id.desc())
    return list(conn.execute(query.order_by(*order).limit(limit)).mappings())


def latest_decision_with_evidence(
    conn: Connection, project: str, model: str, version: int
) -> RowMapping | None:
    """The newest passing decision of a version (what moved it to an alias, or a CI check of it)."""
    query = (
        select(gate_decisions)
        .where(
            gate_decisions.c.project == project,
            gate_decisions.c.model == model,
            gate_decisions.c.version == version,
            gate_decisions.c.verdict == "passed",
        )
        .order_by(gate_decisions.c.created_at.desc(), gate_decisions.c.id.desc())
        .limit(1)
    )
    return conn.execute(query).mappings().first()


# --- promotions -----------------------------------------------------------------------------------


def take_slot(conn: Connection, project: str, model: str, alias: str, promotion_id: str) -> bool:
    """Take the alias's one open-promotion slot; False when another promotion holds it."""
    statement = upsert(conn, gate_open_promotions).values(
        project=project, model=model, alias=alias, promotion_id=promotion_id
    )
    statement = statement.on_conflict_do_nothing(index_elements=["project", "model", "alias"])
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... ON CONFLICT DO NOTHING.
    return conn.execute(statement.returning(gate_open_promotions.c.promotion_id)).first() is not None


def slot_holder(conn: Connection, project: str, model: str, alias: str) -> str | None:
    query = select(gate_open_promotions.c.promotion_id).where(
        gate_open_promotions.c.project == project,
        gate_open_promotions.c.model == model,
        gate_open_promotions.c.alias == alias,
    )
    found = conn.execute(query).scalar()
    return None if found is None else str(found)


def free_slot(conn: Connection, promotion_id: str) -> None:
    conn.execute(delete(gate_open_promotions).where(gate_open_promotions.c.promotion_id == promotion_id))


def insert_promotion(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(gate_promotions.insert().values(**row))


def update_promotion(conn: Connection, promotion_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(gate_promotions).where(gate_promotions.c.id == promotion_id).values(**values))


def promotion_row(conn: Connection, promotion_id: str, *, lock: bool = False) -> RowMapping | None:
    """With `lock`, held until the transaction ends (PostgreSQL; SQLite's one writer serialises
    changes anyway): two approvals of one promotion are counted one after the other."""
    query = select(gate_promotions).where(gate_promotions.c.id == promotion_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def promotion_rows(
    conn: Connection, project: str, model: str | None = None, alias: str | None = None, *, limit: int = 100
) -> list[RowMapping]:
    query = select(gate_promotions).where(gate_promotions.c.project == project)
    if model is not None:
        query = query.where(gate_promotions.c.model == model)
    if alias is not None:
        query = query.where(gate_promotions.c.alias == alias)
    order = (gate_promotions.c.requested_at.desc(), gate_promotions.c.id.desc())
    return list(conn.execute(query.order_by(*order).limit(limit)).mappings())


# --- approvals ------------------------------------------------------------------------------------


def approval_rows(conn: Connection, promotion_ids: list[str]) -> dict[str, list[RowMapping]]:
    query = (
        select(gate_approvals)
        .where(gate_approvals.c.promotion_id.in_(promotion_ids))
        .order_by(gate_approvals.c.approved_at, gate_approvals.c.approver)
    )
    found: dict[str, list[RowMapping]] = {}
    for row in conn.execute(query).mappings():
        found.setdefault(str(row["promotion_id"]), []).append(row)
    return found


def put_approval(conn: Connection, row: dict[str, Any]) -> None:
    """An approver's approval of a promotion; a second replaces the first (it renews it)."""
    values = {key: row[key] for key in ("comment", "approved_at", "expires_at")}
    statement = upsert(conn, gate_approvals).values(**row)
    conn.execute(statement.on_conflict_do_update(index_elements=["promotion_id", "approver"], set_=values))


# --- waivers --------------------------------------------------------------------------------------


def insert_waiver(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(gate_waivers.insert().values(**row))


def waiver_rows(
    conn: Connection, project: str, model: str, version: int | None = None, alias: str | None = None
) -> list[RowMapping]:
    query = select(gate_waivers).where(gate_waivers.c.project == project, gate_waivers.c.model == model)
    if version is not None:
        query = query.where(gate_waivers.c.version == version)
    if alias is not None:
        query = query.where(gate_waivers.c.alias == alias)
    order = (gate_waivers.c.created_at.desc(), gate_waivers.c.id.desc())
    return list(conn.execute(query.order_by(*order)).mappings())
