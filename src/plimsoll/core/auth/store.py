"""Tables of users, hashed API tokens, per-project roles, browser sessions and sign-in state, and
the SQL that reads and writes them."""

from __future__ import annotations

import hmac
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Integer,
    String,
    Table,
    bindparam,
    case,
    delete,
    false,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from plimsoll.core.auth.entities import ApiToken, Binding, Role, Session, SignInMethod, User, UserKind
from plimsoll.core.db import metadata

users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
    Column("disabled_at", BigInteger, nullable=True),
    Column("kind", String(16), nullable=False, default="person", server_default="person"),
    # Argon2id (PHC string); None: this user cannot sign in with a password.
    Column("password_hash", String(256), nullable=True),
    Column("must_change_password", Boolean, nullable=False, default=False, server_default=false()),
    Column("email", String(320), nullable=True),
    Column("display_name", String(256), nullable=True),
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
    # A bound token acts only in `project`, with at most `role` (service accounts' tokens are).
    Column("project", String(128), nullable=True),
    Column("role", String(16), nullable=True),
    Column("last_used_at", BigInteger, nullable=True),
)

project_roles = Table(
    "project_roles",
    metadata,
    Column("project", String(128), ForeignKey("projects.name", ondelete="CASCADE"), primary_key=True),
    Column("user_name", String(128), ForeignKey("users.name", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False),
    # `manual` (granted by an admin) or `sso` (mapped from the identity provider's claim at each
    # sign-in, and taken away when the claim no longer maps to it).
    Column("source", String(16), nullable=False, default="manual", server_default="manual"),
)

user_sessions = Table(
    "user_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    # sha256 of the cookie's secret; the secret itself is never stored.
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column(
        "user_name", String(128), ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("method", String(16), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("last_seen_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("ended_at", BigInteger, nullable=True),
    Column("end_reason", String(32), nullable=True),
    Column("address", String(64), nullable=True),
    Column("user_agent", String(256), nullable=True),
)

# Failed sign-ins, per account name (whether or not it exists) and per client address.
sign_in_failures = Table(
    "sign_in_failures",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("last_failure_at", BigInteger, nullable=False),
    Column("blocked_until", BigInteger, nullable=False),
)

# A single sign-on started and not yet finished: the state (by its hash), nonce and PKCE verifier
# the callback must match, and where to go afterwards. Taken (deleted) by the one callback that
# uses it, so a replayed response finds nothing.
sso_requests = Table(
    "sso_requests",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    # sha256 of a secret held in the cookie of the browser that started the sign-in: the answer
    # is taken only from that browser (another one, sent the link, gets nothing).
    Column("browser_hash", String(64), nullable=False),
    Column("nonce", String(128), nullable=False),
    Column("code_verifier", String(128), nullable=False),
    Column("next_path", String(2048), nullable=False),
    Column("created_at", BigInteger, nullable=False, index=True),
)

# Which user an identity provider's subject is: linked at the first single sign-on.
user_identities = Table(
    "user_identities",
    metadata,
    Column("issuer", String(512), primary_key=True),
    Column("subject", String(255), primary_key=True),
    Column(
        "user_name", String(128), ForeignKey("users.name", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("created_at", BigInteger, nullable=False),
    Column("last_sign_in_at", BigInteger, nullable=False),
)

TABLES = (users, api_tokens, project_roles, user_sessions, sign_in_failures, sso_requests, user_identities)

_USER_COLUMNS = (
    users.c.name,
    users.c.is_admin,
    users.c.created_at,
    users.c.disabled_at,
    users.c.kind,
    (users.c.password_hash.is_not(None)).label("has_password"),
    users.c.must_change_password,
    users.c.email,
    users.c.display_name,
)

# The statements every guarded request runs, built once: building a statement costs more than
# running it on SQLite, and the check sits on the write path.
_AUTHENTICATE = (
    select(
        api_tokens.c.id,
        api_tokens.c.expires_at,
        api_tokens.c.revoked_at,
        api_tokens.c.project,
        api_tokens.c.role,
        api_tokens.c.last_used_at,
        *_USER_COLUMNS,
    )
    .join(users, users.c.name == api_tokens.c.user_name)
    .where(api_tokens.c.token_hash == bindparam("token_hash"))
)
_SESSION = (
    select(
        user_sessions.c.id,
        user_sessions.c.method,
        user_sessions.c.csrf_token,
        user_sessions.c.created_at.label("session_created_at"),
        user_sessions.c.last_seen_at,
        user_sessions.c.expires_at,
        user_sessions.c.ended_at,
        user_sessions.c.end_reason,
        user_sessions.c.address,
        user_sessions.c.user_agent,
        *_USER_COLUMNS,
    )
    .join(users, users.c.name == user_sessions.c.user_name)
    .where(user_sessions.c.secret_hash == bindparam("secret_hash"))
)
_HELD = select(project_roles.c.project, project_roles.c.role).where(
    (project_roles.c.user_name == bindparam("user"))
    & project_roles.c.project.in_(bindparam("projects", expanding=True))
)
_ANY_ROLE = select(project_roles.c.project).where(project_roles.c.user_name == bindparam("user")).limit(1)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def user_of(row: Any) -> User:
    return User(
        name=str(row.name),
        is_admin=bool(row.is_admin),
        created_at=int(row.created_at),
        disabled_at=_int_or_none(row.disabled_at),
        kind=UserKind(row.kind),
        has_password=bool(row.has_password),
        must_change_password=bool(row.must_change_password),
        email=row.email,
        display_name=row.display_name,
    )


def binding_of(row: Any) -> Binding | None:
    return None if row.project is None else Binding(str(row.project), Role(row.role))


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=str(row.id),
        user=str(row.user_name),
        label=str(row.label),
        created_at=int(row.created_at),
        expires_at=_int_or_none(row.expires_at),
        revoked_at=_int_or_none(row.revoked_at),
        binding=binding_of(row),
        last_used_at=_int_or_none(row.last_used_at),
    )


def session_of(row: Any, user: str) -> Session:
    return Session(
        id=str(row.id),
        user=user,
        method=SignInMethod(row.method),
        created_at=int(row.session_created_at),
        last_seen_at=int(row.last_seen_at),
        expires_at=int(row.expires_at),
        ended_at=_int_or_none(row.ended_at),
        end_reason=row.end_reason,
        address=row.address,
        user_agent=row.user_agent,
    )


# -- users -----------------------------------------------------------------------------------------


def get_user(conn: Connection, name: str) -> User | None:
    row = conn.execute(select(*_USER_COLUMNS).where(users.c.name == name)).first()
    return None if row is None else user_of(row)


def list_users(conn: Connection) -> list[User]:
    return [user_of(row) for row in conn.execute(select(*_USER_COLUMNS).order_by(users.c.name))]


def insert_user(conn: Connection, user: User) -> None:
    conn.execute(
        users.insert().values(
            name=user.name,
            is_admin=user.is_admin,
            created_at=user.created_at,
            disabled_at=user.disabled_at,
            kind=user.kind.value,
            email=user.email,
            display_name=user.display_name,
        )
    )


def password_hash(conn: Connection, name: str) -> str | None:
    return conn.execute(select(users.c.password_hash).where(users.c.name == name)).scalar()


def set_password_hash(conn: Connection, name: str, hashed: str | None, *, must_change: bool) -> None:
    conn.execute(
        users.update()
        .where(users.c.name == name)
        .values(password_hash=hashed, must_change_password=must_change)
    )


def set_profile(conn: Connection, name: str, *, email: str | None, display_name: str | None) -> None:
    conn.execute(users.update().where(users.c.name == name).values(email=email, display_name=display_name))


def set_site_admin(conn: Connection, name: str, is_admin: bool) -> None:
    conn.execute(users.update().where(users.c.name == name).values(is_admin=is_admin))


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
            project=None if token.binding is None else token.binding.project,
            role=None if token.binding is None else token.binding.role.value,
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
    """The token (id, expires_at, revoked_at, project, role, last_used_at) and its user's columns,
    or None."""
    return conn.execute(_AUTHENTICATE, {"token_hash": token_hash}).first()


def set_token_used(conn: Connection, token_id: str, used_at: int) -> None:
    conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=used_at))


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


def insert_role(conn: Connection, project: str, user: str, role: Role, *, source: str = "manual") -> None:
    conn.execute(
        project_roles.insert().values(project=project, user_name=user, role=role.value, source=source)
    )


def update_role(conn: Connection, project: str, user: str, role: Role, *, source: str = "manual") -> None:
    conn.execute(
        project_roles.update()
        .where((project_roles.c.project == project) & (project_roles.c.user_name == user))
        .values(role=role.value, source=source)
    )


def role_sources(conn: Connection, user: str) -> dict[str, tuple[Role, str]]:
    """Every role of `user`, by project, with where it came from (`manual` or `sso`)."""
    query = select(project_roles.c.project, project_roles.c.role, project_roles.c.source).where(
        project_roles.c.user_name == user
    )
    return {str(row.project): (Role(row.role), str(row.source)) for row in conn.execute(query)}


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


# -- sessions --------------------------------------------------------------------------------------


def insert_session(conn: Connection, session: Session, secret_hash: str, csrf_token: str) -> None:
    conn.execute(
        user_sessions.insert().values(
            id=session.id,
            secret_hash=secret_hash,
            user_name=session.user,
            method=session.method.value,
            csrf_token=csrf_token,
            created_at=session.created_at,
            last_seen_at=session.last_seen_at,
            expires_at=session.expires_at,
            address=session.address,
            user_agent=session.user_agent,
        )
    )


def session_by_hash(conn: Connection, secret_hash: str) -> Any:
    """The session's columns and its user's, or None."""
    return conn.execute(_SESSION, {"secret_hash": secret_hash}).first()


def touch_session(conn: Connection, session_id: str, seen_at: int) -> None:
    conn.execute(
        update(user_sessions)
        .where((user_sessions.c.id == session_id) & user_sessions.c.ended_at.is_(None))
        .values(last_seen_at=seen_at)
    )


# Every session read names its start `session_created_at`, as the join with its user must.
_SESSION_ROW = select(user_sessions, user_sessions.c.created_at.label("session_created_at"))


def get_session(conn: Connection, session_id: str) -> Session | None:
    row = conn.execute(_SESSION_ROW.where(user_sessions.c.id == session_id)).first()
    return None if row is None else session_of(row, str(row.user_name))


def sessions_of(conn: Connection, user: str, *, open_after: int | None = None) -> list[Session]:
    """The sessions of `user`, newest first; with `open_after`, only those not ended and not past
    their absolute expiry at that time."""
    query = _SESSION_ROW.where(user_sessions.c.user_name == user)
    if open_after is not None:
        query = query.where(user_sessions.c.ended_at.is_(None) & (user_sessions.c.expires_at > open_after))
    query = query.order_by(user_sessions.c.created_at.desc(), user_sessions.c.id)
    return [session_of(row, user) for row in conn.execute(query)]


def end_sessions(
    conn: Connection,
    *,
    user: str,
    ended_at: int,
    reason: str,
    session_id: str | None = None,
    keep: str | None = None,
) -> list[str]:
    """End the open sessions of `user` (only `session_id`, when given; all but `keep`, when given);
    the ids of those ended."""
    condition = (user_sessions.c.user_name == user) & user_sessions.c.ended_at.is_(None)
    if session_id is not None:
        condition &= user_sessions.c.id == session_id
    if keep is not None:
        condition &= user_sessions.c.id != keep
    ids = [str(i) for i in conn.execute(select(user_sessions.c.id).where(condition)).scalars()]
    if ids:
        conn.execute(
            update(user_sessions)
            .where(user_sessions.c.id.in_(ids))
            .values(ended_at=ended_at, end_reason=reason)
        )
    return ids


def _gone_before(cutoff: int) -> Any:
    return (user_sessions.c.expires_at < cutoff) | (user_sessions.c.ended_at < cutoff)


def count_sessions_before(conn: Connection, cutoff: int) -> int:
    return int(
        conn.execute(select(func.count()).select_from(user_sessions).where(_gone_before(cutoff))).scalar_one()
    )


def delete_sessions_before(conn: Connection, cutoff: int) -> int:
    """Forget sessions that expired or ended before `cutoff`."""
    return int(conn.execute(delete(user_sessions).where(_gone_before(cutoff))).rowcount or 0)


# -- failed sign-ins -------------------------------------------------------------------------------


def count_failure(conn: Connection, key: str, now: int, *, forget_before: int) -> tuple[int, int]:
    """Add one failure to `key` (starting again from one when its last was before
    `forget_before`), in one statement that concurrent tries cannot interleave: (failures now,
    blocked_until as it was)."""
    insert_of = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    column = sign_in_failures.c
    statement = (
        insert_of(sign_in_failures)
        .values(key=key, failures=1, last_failure_at=now, blocked_until=0)
        .on_conflict_do_update(
            index_elements=[column.key],
            set_={
                "failures": case((column.last_failure_at < forget_before, 1), else_=column.failures + 1),
                "last_failure_at": now,
            },
        )
        .returning(column.failures, column.blocked_until)
    )
    row = conn.execute(statement).one()
    return int(row.failures), int(row.blocked_until)


def block_until(conn: Connection, key: str, until: int) -> None:
    conn.execute(update(sign_in_failures).where(sign_in_failures.c.key == key).values(blocked_until=until))


def uncount_failure(conn: Connection, key: str) -> int | None:
    """Take one failure back from `key`; the count left, or None when the key has none."""
    column = sign_in_failures.c
    row = conn.execute(
        update(sign_in_failures)
        .where((column.key == key) & (column.failures > 0))
        .values(failures=column.failures - 1)
        .returning(column.failures)
    ).first()
    return None if row is None else int(row.failures)


def clear_failures(conn: Connection, key: str) -> None:
    conn.execute(delete(sign_in_failures).where(sign_in_failures.c.key == key))


def delete_failures_before(conn: Connection, cutoff: int) -> int:
    result = conn.execute(
        delete(sign_in_failures).where(
            (sign_in_failures.c.last_failure_at < cutoff) & (sign_in_failures.c.blocked_until < cutoff)
        )
    )
    return int(result.rowcount or 0)


# -- single sign-on --------------------------------------------------------------------------------


def insert_sso_request(
    conn: Connection,
    *,
    state_hash: str,
    browser_hash: str,
    nonce: str,
    code_verifier: str,
    next_path: str,
    created_at: int,
) -> None:
    conn.execute(
        sso_requests.insert().values(
            state_hash=state_hash,
            browser_hash=browser_hash,
            nonce=nonce,
            code_verifier=code_verifier,
            next_path=next_path,
            created_at=created_at,
        )
    )


def take_sso_request(conn: Connection, state_hash: str, browser_hash: str) -> Any:
    """The pending request of that state started by that browser (nonce, code_verifier,
    next_path, created_at), deleted in the same transaction so that only one callback can use it;
    None when there is none (a request of another browser is left where it is)."""
    row = conn.execute(select(sso_requests).where(sso_requests.c.state_hash == state_hash)).first()
    if row is None or not hmac.compare_digest(str(row.browser_hash), browser_hash):
        return None
    deleted = conn.execute(delete(sso_requests).where(sso_requests.c.state_hash == state_hash))
    return row if deleted.rowcount == 1 else None  # another replica took it first


def delete_sso_requests_before(conn: Connection, cutoff: int) -> int:
    result = conn.execute(delete(sso_requests).where(sso_requests.c.created_at < cutoff))
    return int(result.rowcount or 0)


def identity_user(conn: Connection, issuer: str, subject: str) -> str | None:
    query = select(user_identities.c.user_name).where(
        (user_identities.c.issuer == issuer) & (user_identities.c.subject == subject)
    )
    return conn.execute(query).scalar()


def link_identity(conn: Connection, issuer: str, subject: str, user: str, at: int) -> None:
    conn.execute(
        user_identities.insert().values(
            issuer=issuer, subject=subject, user_name=user, created_at=at, last_sign_in_at=at
        )
    )


def touch_identity(conn: Connection, issuer: str, subject: str, at: int) -> None:
    conn.execute(
        update(user_identities)
        .where((user_identities.c.issuer == issuer) & (user_identities.c.subject == subject))
        .values(last_sign_in_at=at)
    )


def identities_of(conn: Connection, user: str) -> list[tuple[str, str]]:
    query = select(user_identities.c.issuer, user_identities.c.subject).where(
        user_identities.c.user_name == user
    )
    return [(str(r.issuer), str(r.subject)) for r in conn.execute(query)]
