"""The registry's tables and every statement that reads or writes them. Each function takes an
open connection; the service owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
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
    func,
    select,
    update,
)

from plimsoll.core.db import metadata, upsert

ID = String(32)
DIGEST = String(64)

registered_models = Table(
    "registered_models",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("owners", Text, nullable=False),  # JSON: {role: user or team}
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project", "name"),
)

model_versions = Table(
    "model_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("run_id", ID, nullable=True, index=True),
    Column("artifact_path", String(1024), nullable=False),
    Column("artifact_digest", DIGEST, nullable=False),
    Column("files", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("flavor", String(64), nullable=False),
    Column("description", Text, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    # From the artifact's manifest.json, JSON each (null without a manifest): reg0002 on.
    Column("signature", Text, nullable=True),
    Column("input_example", Text, nullable=True),
    Column("card", Text, nullable=True),
    Column("datasets", Text, nullable=True),  # JSON: the dataset versions the run had used
    # What loading it takes, found in its files: skops types beyond the defaults (JSON list) and
    # who approved them; a pickle's imports (JSON list, null: no pickle) and who trusted it.
    Column("needed_types", Text, nullable=True),
    Column("types_approved_by", String(128), nullable=True),
    Column("types_approved_at", BigInteger, nullable=True),
    Column("pickle_imports", Text, nullable=True),
    Column("trusted_by", String(128), nullable=True),
    Column("trusted_at", BigInteger, nullable=True),
    UniqueConstraint("model_id", "version"),
)

# Where each alias points now; its history is `alias_moves`, which is only ever appended to.
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", ID, ForeignKey("registered_models.id"), primary_key=True),
    Column("alias", String(64), primary_key=True),
    Column("version", BigInteger, nullable=True),  # None: removed (the row keeps `protected`)
    Column("protected", Boolean, nullable=False),
    Column("moved_by", String(128), nullable=False),
    Column("moved_at", BigInteger, nullable=False),
    Column("access", Text, nullable=True),  # JSON: who may request, approve, roll back (AliasAccess)
)

alias_moves = Table(
    "alias_moves",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", ID, ForeignKey("registered_models.id"), nullable=False),
    Column("alias", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("version", BigInteger, nullable=True),
    Column("previous", BigInteger, nullable=True),
    Column("actor", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("seq", BigInteger, nullable=False),  # the move's place in its alias's history, from 1
    UniqueConstraint("model_id", "alias", "seq"),
    Index("ix_alias_moves_model_id_alias_at", "model_id", "alias", "at"),
)

TABLES = (registered_models, model_versions, model_aliases, alias_moves)


# --- models ---------------------------------------------------------------------------------------


def insert_model_if_new(conn: Connection, row: dict[str, Any]) -> bool:
    """Insert a model unless one of that name is in the project; True if this call made it."""
    statement = upsert(conn, registered_models).values(**row)
    statement = statement.on_conflict_do_nothing(index_elements=["project", "name"])
    # RETURNING, not rowcount: psycopg reports -1 rows for an INSERT ... ON CONFLICT DO NOTHING.
    return conn.execute(statement.returning(registered_models.c.id)).first() is not None


def model_row(conn: Connection, project: str, name: str, *, lock: bool = False) -> RowMapping | None:
    """The model's row; with `lock`, held until the transaction ends (PostgreSQL; SQLite's one
    writer serialises changes anyway): what makes two changes of one model's versions or
    aliases happen one after the other."""
    query = select(registered_models).where(
        registered_models.c.project == project, registered_models.c.name == name
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def model_rows(conn: Connection, project: str) -> list[RowMapping]:
    query = (
        select(registered_models)
        .where(registered_models.c.project == project)
        .order_by(registered_models.c.name)
    )
    return list(conn.execute(query).mappings())


def update_model(conn: Connection, model_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(registered_models).where(registered_models.c.id == model_id).values(**values))


def latest_versions(conn: Connection, model_ids: list[str]) -> dict[str, int]:
    query = (
        select(model_versions.c.model_id, func.max(model_versions.c.version))
        .where(model_versions.c.model_id.in_(model_ids))
        .group_by(model_versions.c.model_id)
    )
    return {str(model_id): int(version) for model_id, version in conn.execute(query)}


# --- versions -------------------------------------------------------------------------------------


def next_version(conn: Connection, model_id: str) -> int:
    query = select(func.coalesce(func.max(model_versions.c.version), 0)).where(
        model_versions.c.model_id == model_id
    )
    return int(conn.execute(query).scalar_one()) + 1


def insert_version(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(model_versions.insert().values(**row))


def version_row(conn: Connection, model_id: str, version: int | None) -> RowMapping | None:
    query = select(model_versions).where(model_versions.c.model_id == model_id)
    if version is None:
        query = query.order_by(model_versions.c.version.desc()).limit(1)
    else:
        query = query.where(model_versions.c.version == version)
    return conn.execute(query).mappings().first()


def update_version(conn: Connection, version_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(model_versions).where(model_versions.c.id == version_id).values(**values))


def version_rows(conn: Connection, model_id: str) -> list[RowMapping]:
    query = select(model_versions).where(model_versions.c.model_id == model_id)
    return list(conn.execute(query.order_by(model_versions.c.version.desc())).mappings())


def version_with_digest(conn: Connection, model_id: str, run_id: str, digest: str) -> RowMapping | None:
    """The model's version registered from this run's artifact with this digest, if any."""
    query = select(model_versions).where(
        model_versions.c.model_id == model_id,
        model_versions.c.artifact_digest == digest,
        model_versions.c.run_id == run_id,
    )
    return conn.execute(query).mappings().first()


# --- aliases --------------------------------------------------------------------------------------


def alias_rows(conn: Connection, model_id: str) -> list[RowMapping]:
    query = select(model_aliases).where(model_aliases.c.model_id == model_id).order_by(model_aliases.c.alias)
    return list(conn.execute(query).mappings())


def held_aliases(conn: Connection, model_ids: list[str]) -> dict[str, dict[str, int]]:
    """The aliases that hold a version now, by model: {model id: {alias: version}}."""
    query = (
        select(model_aliases.c.model_id, model_aliases.c.alias, model_aliases.c.version)
        .where(model_aliases.c.model_id.in_(model_ids), model_aliases.c.version.is_not(None))
        .order_by(model_aliases.c.model_id, model_aliases.c.alias)
    )
    held: dict[str, dict[str, int]] = {}
    for model_id, alias, version in conn.execute(query):
        held.setdefault(str(model_id), {})[str(alias)] = int(version)
    return held


def alias_row(conn: Connection, model_id: str, alias: str) -> RowMapping | None:
    query = select(model_aliases).where(model_aliases.c.model_id == model_id, model_aliases.c.alias == alias)
    return conn.execute(query).mappings().first()


def put_alias(conn: Connection, model_id: str, alias: str, values: dict[str, Any]) -> None:
    statement = upsert(conn, model_aliases).values(model_id=model_id, alias=alias, **values)
    conn.execute(statement.on_conflict_do_update(index_elements=["model_id", "alias"], set_=values))


def append_move(conn: Connection, row: dict[str, Any]) -> None:
    """Append a move to its alias's history, numbered after the last. The model's row is locked by
    the caller, so no two moves of one alias take the same number."""
    query = select(func.coalesce(func.max(alias_moves.c.seq), 0)).where(
        alias_moves.c.model_id == row["model_id"], alias_moves.c.alias == row["alias"]
    )
    conn.execute(alias_moves.insert().values(**row, seq=int(conn.execute(query).scalar_one()) + 1))


def move_rows(conn: Connection, model_id: str, alias: str | None, until: int | None) -> list[RowMapping]:
    """An alias's moves (every alias's, with None), newest first; with `until`, those made at or
    before that time only."""
    query = select(alias_moves).where(alias_moves.c.model_id == model_id)
    if alias is not None:
        query = query.where(alias_moves.c.alias == alias)
    if until is not None:
        query = query.where(alias_moves.c.at <= until)
    order = (alias_moves.c.at.desc(), alias_moves.c.alias, alias_moves.c.seq.desc())
    return list(conn.execute(query.order_by(*order)).mappings())
