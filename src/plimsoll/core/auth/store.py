"""Tables of users, hashed API tokens and per-project roles, and the SQL that reads and writes them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    String,
    Table,
    bindparam,
    select,
    text,
)

from plimsoll.core.auth.entities import ApiToken, Role, User
from plimsoll.core.db import metadata

users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "user_name", String(128), ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("label", String(256), nullable=False),
    # sha256 of the secret; the secret itself is shown once and never stored.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
)

project_roles = Table(
    "project_roles",
    metadata,
    Column("project", String(128), ForeignKey("projects.name", ondelete="CASCADE"), primary_key=True),
    Column("user_name", String(128), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
)

TABLES = (users, api_tokens, project_roles)

# The statements every guarded request runs, built once: building a statement costs more than
# running it on SQLite, and the check sits on the write path.
_AUTHENTICATE = (
    select(
        api_tokens.c.id,
        api_tokens.c.expires_at,
        api_tokens.c.revoked_at,
        users.c.name,
        users.c.is_admin,
        users.c.created_at,
        users.c.disabled_at,
    )
    .join(users, users.c.name == api_tokens.c.user_name)
    .where(api_tokens.c.token_hash == bindparam("token_hash"))
)
_HELD = select(project_roles.c.project, project_roles.c.role).where(
    (project_roles.c.user_name == bindparam("user"))
    & project_roles.c.project.in_(bindparam("projects", expanding=True))
)
_ANY_ROLE = select(project_roles.c.project).where(project_roles.c.user_name == bindparam("user")).limit(1)


def user_of(row: Any) -> User:
    return User(
        name=str(row.name),
        is_admin=bool(row.is_admin),
        created_at=int(row.created_at),
        disabled_at=None if row.disabled_at is None else int(row.disabled_at),
    )


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=str(row.id),
        user=str(row.user_name),
        label=str(row.label),
        created_at=int(row.created_at),
        expires_at=None if row.expires_at is None else int(row.expires_at),
        revoked_at=None if row.revoked_at is None else int(row.revoked_at),
    )


# -- users -----------------------------------------------------------------------------------------


def get_user(conn: Connection, name: str) -> User | None:
    row = conn.execute(select(users).where(users.c.name == name)).first()
    return None if row is None else user_of(row)


def list_users(conn: Connection) -> list[User]:
    return [user_of(row) for row in conn.execute(select(users).order_by(users.c.name))]


def insert_user(conn: Connection, user: User) -> None:
    conn.execute(users.insert().values(**user.to_dict()))


def set_disabled(conn: Connection, name: str, disabled_at: int | None) -> None:
    conn.execute(users.update().where(users.c.name == name).values(disabled_at=disabled_at))


def enabled_admins(conn: Connection, *, lock: bool = False) -> list[str]:
    """The site admins not disabled; with `lock`, their rows held until commit, so that two
    transactions cannot each disable one of the last two (SQLite's write lock serialises them)."""
    query = select(users.c.name).where(users.c.is_admin.is_(True) & users.c.disabled_at.is_(None))
    if lock:
        query = query.with_for_update()
    return [str(name) for name in conn.execute(query.order_by(users.c.name)).scalars()]


def any_user(conn: Connection, *, lock: bool = False) -> bool:
    """Whether any user exists; with `lock`, on PostgreSQL, holding the table until commit so that
    two bootstraps at once cannot both see none (SQLite's write lock already serialises them)."""
    if lock and conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE users IN EXCLUSIVE MODE"))
    return conn.execute(select(users.c.name).limit(1)).first() is not None


# -- tokens ----------------------------------------------------------------------------------------


def insert_token(conn: Connection, token: ApiToken, token_hash: str) -> None:
    conn.execute(
        api_tokens.insert().values(
            id=token.id,
            user_name=token.user,
            label=token.label,
            token_hash=token_hash,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=token.revoked_at,
        )
    )


def get_token(conn: Connection, token_id: str) -> ApiToken | None:
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    return None if row is None else _token(row)


def tokens_of(conn: Connection, user: str | None) -> list[ApiToken]:
    """The tokens of `user` (None: of every user), oldest first."""
    query = select(api_tokens)
    if user is not None:
        query = query.where(api_tokens.c.user_name == user)
    return [_token(row) for row in conn.execute(query.order_by(api_tokens.c.created_at, api_tokens.c.id))]


def set_revoked(conn: Connection, token_id: str, revoked_at: int) -> None:
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=revoked_at))


def token_by_hash(conn: Connection, token_hash: str) -> Any:
    """(id, expires_at, revoked_at, name, is_admin, created_at, disabled_at) of the token and its
    user, or None."""
    return conn.execute(_AUTHENTICATE, {"token_hash": token_hash}).first()


# -- roles -----------------------------------------------------------------------------------------


def held_roles(conn: Connection, user: str, projects: list[str]) -> dict[str, Role]:
    if not projects:
        return {}
    rows = conn.execute(_HELD, {"user": user, "projects": projects})
    return {str(row.project): Role(row.role) for row in rows}


def has_any_role(conn: Connection, user: str, roles: list[Role] | None = None) -> bool:
    """Whether `user` holds a role in some project (one of `roles`, when given)."""
    if roles is None:
        return conn.execute(_ANY_ROLE, {"user": user}).first() is not None
    query = _ANY_ROLE.where(project_roles.c.role.in_([role.value for role in roles]))
    return conn.execute(query, {"user": user}).first() is not None


def insert_role(conn: Connection, project: str, user: str, role: Role) -> None:
    conn.execute(project_roles.insert().values(project=project, user_name=user, role=role.value))


def update_role(conn: Connection, project: str, user: str, role: Role) -> None:
    conn.execute(
        project_roles.update()
        .where((project_roles.c.project == project) & (project_roles.c.user_name == user))
        .values(role=role.value)
    )


def delete_role(conn: Connection, project: str, user: str) -> None:
    conn.execute(
        project_roles.delete().where(
            (project_roles.c.project == project) & (project_roles.c.user_name == user)
        )
    )


def roles_of_user(conn: Connection, user: str) -> dict[str, Role]:
    query = select(project_roles.c.project, project_roles.c.role).where(project_roles.c.user_name == user)
    return {str(row.project): Role(row.role) for row in conn.execute(query.order_by("project"))}


def members_of(conn: Connection, project: str) -> dict[str, Role]:
    query = select(project_roles.c.user_name, project_roles.c.role).where(project_roles.c.project == project)
    return {str(row.user_name): Role(row.role) for row in conn.execute(query.order_by("user_name"))}
