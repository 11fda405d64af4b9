"""Users, API tokens and per-project roles: the rules, one transaction per change, an audit event each.

    service = AuthService(db)
    first = service.bootstrap_admin("ada")               # NewToken: the secret is shown this once
    user = service.authenticate(first.secret)            # -> User("ada", is_admin=True)
    service.create_user("bob", actor="ada")
    service.grant("default", "bob", Role.CONTRIBUTOR, actor="ada")
    service.require("bob", "default", Role.VIEWER)      # passes: contributor includes viewer

Secrets: a token is `plm_` + 40 URL-safe random characters (240 bits). Only its sha256 is stored
(`api_tokens.token_hash`); lookups go by that hash, so no secret is compared, logged or audited.
Error messages name the token by id, never by secret. A site admin (`users.is_admin`) is admin in
every project.

(The queries live here rather than in `store.py`, which only declares the tables; they touch no
other capability's tables.)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, text

from plimsoll.core import audit
from plimsoll.core.audit import AuditEntry
from plimsoll.core.auth.entities import ApiToken, NewToken, Role, User
from plimsoll.core.auth.store import api_tokens, project_roles, users
from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied, Unauthenticated
from plimsoll.core.http import LOCAL_ACTOR
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import project_exists
from plimsoll.core.validation import check_name, check_text

TOKEN_PREFIX = "plm_"
TOKEN_RANDOM_CHARS = 40
MAX_USER_NAME_LENGTH = 128
MAX_TOKEN_LABEL_LENGTH = 256
# `local` is the actor of every change made with authentication off; a user of that name would
# make the audit log ambiguous.
RESERVED_USER_NAMES = frozenset({LOCAL_ACTOR})


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
    )
    .join(users, users.c.name == api_tokens.c.user_name)
    .where(api_tokens.c.token_hash == bindparam("token_hash"))
)
_HELD = select(project_roles.c.project, project_roles.c.role).where(
    (project_roles.c.user_name == bindparam("user"))
    & project_roles.c.project.in_(bindparam("projects", expanding=True))
)
_ANY_ROLE = select(project_roles.c.project).where(project_roles.c.user_name == bindparam("user")).limit(1)


def hash_token(secret: str) -> str:
    """The stored form of a token: sha256 hex of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    # 30 random bytes encode to exactly 40 URL-safe base64 characters.
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_CHARS * 3 // 4)


def _user(row: Any) -> User:
    return User(name=str(row.name), is_admin=bool(row.is_admin), created_at=int(row.created_at))


def _token(row: Any) -> ApiToken:
    return ApiToken(
        id=str(row.id),
        user=str(row.user_name),
        label=str(row.label),
        created_at=int(row.created_at),
        expires_at=None if row.expires_at is None else int(row.expires_at),
        revoked_at=None if row.revoked_at is None else int(row.revoked_at),
    )


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _name_of(user: User | str) -> str:
    return user.name if isinstance(user, User) else user


class AuthService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users ---------------------------------------------------------------------------------

    def create_user(self, name: str, *, is_admin: bool = False, actor: str) -> User:
        check_name("name", name, max_length=MAX_USER_NAME_LENGTH)
        if name in RESERVED_USER_NAMES:
            raise InvalidParameter("name", f"{name!r} is reserved for the local user when auth is off")
        with self.db.write() as conn:
            return self._insert_user(conn, name, is_admin=is_admin, actor=actor)

    def _insert_user(self, conn: Connection, name: str, *, is_admin: bool, actor: str) -> User:
        if self._user_row(conn, name) is not None:
            raise Conflict(f"user {name!r} already exists")
        user = User(name=name, is_admin=bool(is_admin), created_at=now_ms())
        conn.execute(users.insert().values(**user.to_dict()))
        audit.record(
            conn, [AuditEntry(actor, "user.create", "user", name, after={"is_admin": user.is_admin})]
        )
        return user

    def get_user(self, name: str) -> User:
        with self.db.read() as conn:
            row = self._user_row(conn, name)
        if row is None:
            raise NotFound(f"user {name!r} not found")
        return _user(row)

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            return [_user(row) for row in conn.execute(select(users).order_by(users.c.name))]

    def bootstrap_admin(self, name: str, *, label: str = "bootstrap", actor: str = LOCAL_ACTOR) -> NewToken:
        """Create the first user, a site admin, and a token for them; a Conflict once any user exists."""
        check_name("name", name, max_length=MAX_USER_NAME_LENGTH)
        if name in RESERVED_USER_NAMES:
            raise InvalidParameter("name", f"{name!r} is reserved for the local user when auth is off")
        with self.db.write() as conn:
            if conn.dialect.name == "postgresql":
                # Two bootstraps at once must not both see "no users yet" (SQLite's write lock
                # already serialises them).
                conn.execute(text("LOCK TABLE users IN EXCLUSIVE MODE"))
            if conn.execute(select(users.c.name).limit(1)).first() is not None:
                raise Conflict(
                    "users already exist: bootstrap only creates the first admin; "
                    "ask an admin for a token instead"
                )
            self._insert_user(conn, name, is_admin=True, actor=actor)
            return self._insert_token(conn, name, label=label, expires_at=None, actor=actor)

    @staticmethod
    def _user_row(conn: Connection, name: str) -> Any:
        return conn.execute(select(users).where(users.c.name == name)).first()

    # -- tokens --------------------------------------------------------------------------------

    def create_token(
        self, user: str, *, label: str = "", expires_at: int | None = None, actor: str | None = None
    ) -> NewToken:
        """A new token for `user`; `expires_at` in epoch milliseconds (None: until revoked).
        `actor` defaults to the user themself."""
        check_text("label", label, max_length=MAX_TOKEN_LABEL_LENGTH)
        if expires_at is not None:
            if isinstance(expires_at, bool) or not isinstance(expires_at, int):
                raise InvalidParameter("expires_at", "must be epoch milliseconds (an integer)")
            if expires_at <= now_ms():
                raise InvalidParameter("expires_at", f"{_iso(expires_at)} is not in the future")
        with self.db.write() as conn:
            if self._user_row(conn, user) is None:
                raise NotFound(f"user {user!r} not found")
            return self._insert_token(conn, user, label=label, expires_at=expires_at, actor=actor or user)

    @staticmethod
    def _insert_token(
        conn: Connection, user: str, *, label: str, expires_at: int | None, actor: str
    ) -> NewToken:
        secret = new_secret()
        token = ApiToken(
            id=new_id(), user=user, label=label, created_at=now_ms(), expires_at=expires_at, revoked_at=None
        )
        conn.execute(
            api_tokens.insert().values(
                id=token.id,
                user_name=user,
                label=label,
                token_hash=hash_token(secret),
                created_at=token.created_at,
                expires_at=expires_at,
                revoked_at=None,
            )
        )
        # The audit event names the token by id; neither its secret nor its hash goes in.
        after = {"user": user, "label": label, "expires_at": expires_at}
        audit.record(conn, [AuditEntry(actor, "token.create", "api_token", token.id, after=after)])
        return NewToken(token=token, secret=secret)

    def get_token(self, token_id: str) -> ApiToken:
        with self.db.read() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFound(f"API token {token_id!r} not found")
        return _token(row)

    def list_tokens(self, user: str) -> list[ApiToken]:
        with self.db.read() as conn:
            if self._user_row(conn, user) is None:
                raise NotFound(f"user {user!r} not found")
            query = (
                select(api_tokens)
                .where(api_tokens.c.user_name == user)
                .order_by(api_tokens.c.created_at, api_tokens.c.id)
            )
            return [_token(row) for row in conn.execute(query)]

    def revoke_token(self, token_id: str, *, actor: str) -> ApiToken:
        """Revoke a token for good; revoking it again changes nothing and records nothing."""
        with self.db.write() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
            if row is None:
                raise NotFound(f"API token {token_id!r} not found")
            token = _token(row)
            if token.revoked_at is not None:
                return token
            revoked_at = now_ms()
            conn.execute(api_tokens.update().where(api_tokens.c.id == token_id).values(revoked_at=revoked_at))
            audit.record(
                conn,
                [
                    AuditEntry(
                        actor,
                        "token.revoke",
                        "api_token",
                        token_id,
                        before={"user": token.user, "revoked_at": None},
                        after={"user": token.user, "revoked_at": revoked_at},
                    )
                ],
            )
        return ApiToken(
            id=token.id,
            user=token.user,
            label=token.label,
            created_at=token.created_at,
            expires_at=token.expires_at,
            revoked_at=revoked_at,
        )

    def authenticate(self, secret: str) -> User:
        """The user a token secret belongs to; Unauthenticated (never echoing the secret) otherwise."""
        with self.db.read() as conn:
            return self.authenticate_in(conn, secret)

    @staticmethod
    def authenticate_in(conn: Connection, secret: str) -> User:
        if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated(f"not a Plimsoll API token (they start with {TOKEN_PREFIX!r})")
        row = conn.execute(_AUTHENTICATE, {"token_hash": hash_token(secret)}).first()
        if row is None:
            raise Unauthenticated("unknown API token")
        if row.revoked_at is not None:
            raise Unauthenticated(
                f"API token {row.id} was revoked at {_iso(int(row.revoked_at))}",
                details={"token_id": row.id},
            )
        if row.expires_at is not None and int(row.expires_at) <= now_ms():
            raise Unauthenticated(
                f"API token {row.id} expired at {_iso(int(row.expires_at))}", details={"token_id": row.id}
            )
        return _user(row)

    # -- roles ---------------------------------------------------------------------------------

    def grant(self, project: str, user: str, role: Role | str, *, actor: str) -> Role:
        """Give `user` exactly `role` in `project` (replacing any role they held there)."""
        parsed = Role.parse(role)
        with self.db.write() as conn:
            if not project_exists(conn, project):
                raise NotFound(f"project {project!r} not found")
            if self._user_row(conn, user) is None:
                raise NotFound(f"user {user!r} not found")
            held = self._held(conn, user, [project]).get(project)
            if held is parsed:
                return parsed
            if held is None:
                conn.execute(
                    project_roles.insert().values(project=project, user_name=user, role=parsed.value)
                )
            else:
                conn.execute(
                    project_roles.update()
                    .where((project_roles.c.project == project) & (project_roles.c.user_name == user))
                    .values(role=parsed.value)
                )
            audit.record(
                conn,
                [
                    AuditEntry(
                        actor,
                        "role.grant",
                        "project_role",
                        f"{project}/{user}",
                        project=project,
                        before=None if held is None else {"user": user, "role": held.value},
                        after={"user": user, "role": parsed.value},
                    )
                ],
            )
        return parsed

    def revoke_role(self, project: str, user: str, *, actor: str) -> None:
        """Take away `user`'s role in `project`; NotFound when they held none."""
        with self.db.write() as conn:
            held = self._held(conn, user, [project]).get(project)
            if held is None:
                raise NotFound(f"user {user!r} holds no role in project {project!r}")
            conn.execute(
                project_roles.delete().where(
                    (project_roles.c.project == project) & (project_roles.c.user_name == user)
                )
            )
            audit.record(
                conn,
                [
                    AuditEntry(
                        actor,
                        "role.revoke",
                        "project_role",
                        f"{project}/{user}",
                        project=project,
                        before={"user": user, "role": held.value},
                    )
                ],
            )

    def role_of(self, user: User | str, project: str) -> Role | None:
        """The user's role in `project` (admin for site admins), or None."""
        with self.db.read() as conn:
            return self.roles_in(conn, self._resolve_user(conn, user), [project]).get(project)

    def roles_of(self, user: User | str) -> dict[str, Role]:
        """Every project the user holds a role in (site admins: only those explicitly granted)."""
        with self.db.read() as conn:
            query = select(project_roles.c.project, project_roles.c.role).where(
                project_roles.c.user_name == _name_of(user)
            )
            return {str(row.project): Role(row.role) for row in conn.execute(query.order_by("project"))}

    def members(self, project: str) -> dict[str, Role]:
        """Who holds which role in `project`, by user name."""
        with self.db.read() as conn:
            if not project_exists(conn, project):
                raise NotFound(f"project {project!r} not found")
            query = select(project_roles.c.user_name, project_roles.c.role).where(
                project_roles.c.project == project
            )
            return {str(row.user_name): Role(row.role) for row in conn.execute(query.order_by("user_name"))}

    def require(self, user: User | str, project: str, role: Role) -> None:
        """PermissionDenied naming the user, the project, the role needed and the role held."""
        with self.db.read() as conn:
            self.require_in(conn, self._resolve_user(conn, user), [project], role)

    def require_in(self, conn: Connection, user: User, projects: Iterable[str], role: Role) -> None:
        """`require` for several projects at once, in the caller's connection: one query."""
        wanted = sorted(set(projects))
        held = self.roles_in(conn, user, wanted)
        for project in wanted:
            has = held.get(project)
            if has is None or has < role:
                holding = f"holds {has.value}" if has is not None else "holds no role there"
                raise PermissionDenied(
                    f"user {user.name!r} needs role {role.value} in project {project!r} but {holding}",
                    details={
                        "user": user.name,
                        "project": project,
                        "needed": role.value,
                        "held": None if has is None else has.value,
                    },
                )

    def roles_in(self, conn: Connection, user: User, projects: list[str]) -> dict[str, Role]:
        if user.is_admin:
            return dict.fromkeys(projects, Role.ADMIN)
        return self._held(conn, user.name, projects)

    @staticmethod
    def _held(conn: Connection, user: str, projects: list[str]) -> dict[str, Role]:
        if not projects:
            return {}
        rows = conn.execute(_HELD, {"user": user, "projects": projects})
        return {str(row.project): Role(row.role) for row in rows}

    def has_any_role(self, conn: Connection, user: User) -> bool:
        """Whether the user may see anything at all: a site admin, or a role in some project."""
        if user.is_admin:
            return True
        return conn.execute(_ANY_ROLE, {"user": user.name}).first() is not None

    def _resolve_user(self, conn: Connection, user: User | str) -> User:
        if isinstance(user, User):
            return user
        row = self._user_row(conn, user)
        if row is None:
            raise NotFound(f"user {user!r} not found")
        return _user(row)
