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
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime

from plimsoll.core import audit
from plimsoll.core.audit import AuditEntry
from plimsoll.core.auth import store
from plimsoll.core.auth.entities import ApiToken, NewToken, Role, User
from plimsoll.core.db import Connection, Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied, Unauthenticated
from plimsoll.core.http import LOCAL_ACTOR
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects.service import ProjectService
from plimsoll.core.validation import check_int, check_name, check_text

TOKEN_PREFIX = "plm_"
TOKEN_RANDOM_CHARS = 40
MAX_USER_NAME_LENGTH = 128
MAX_TOKEN_LABEL_LENGTH = 256
# `local` is the actor of every change made with authentication off; a user of that name would
# make the audit log ambiguous.
RESERVED_USER_NAMES = frozenset({LOCAL_ACTOR})


def hash_token(secret: str) -> str:
    """The stored form of a token: sha256 hex of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    # 30 random bytes encode to exactly 40 URL-safe base64 characters.
    return TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_RANDOM_CHARS * 3 // 4)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


def _name_of(user: User | str) -> str:
    return user.name if isinstance(user, User) else user


def _check_new_user_name(name: str) -> None:
    check_name("name", name, max_length=MAX_USER_NAME_LENGTH)
    if name in RESERVED_USER_NAMES:
        raise InvalidParameter("name", f"{name!r} is reserved for the local user when auth is off")


class AuthService:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users ---------------------------------------------------------------------------------

    def create_user(self, name: str, *, is_admin: bool = False, actor: str) -> User:
        _check_new_user_name(name)
        with self.db.write() as conn:
            return self._insert_user(conn, name, is_admin=is_admin, actor=actor)

    @staticmethod
    def _insert_user(conn: Connection, name: str, *, is_admin: bool, actor: str) -> User:
        if store.get_user(conn, name) is not None:
            raise Conflict(f"user {name!r} already exists")
        user = User(name=name, is_admin=bool(is_admin), created_at=now_ms())
        store.insert_user(conn, user)
        audit.record(
            conn, [AuditEntry(actor, "user.create", "user", name, after={"is_admin": user.is_admin})]
        )
        return user

    def get_user(self, name: str) -> User:
        with self.db.read() as conn:
            return self._user(conn, name)

    @staticmethod
    def _user(conn: Connection, name: str) -> User:
        user = store.get_user(conn, name)
        if user is None:
            raise NotFound(f"user {name!r} not found")
        return user

    def list_users(self) -> list[User]:
        with self.db.read() as conn:
            return store.list_users(conn)

    def bootstrap_admin(self, name: str, *, label: str = "bootstrap", actor: str = LOCAL_ACTOR) -> NewToken:
        """Create the first user, a site admin, and a token for them; a Conflict once any user exists."""
        _check_new_user_name(name)
        with self.db.write() as conn:
            if store.any_user(conn, lock=True):
                raise Conflict(
                    "users already exist: bootstrap only creates the first admin; "
                    "ask an admin for a token instead"
                )
            self._insert_user(conn, name, is_admin=True, actor=actor)
            return self._insert_token(conn, name, label=label, expires_at=None, actor=actor)

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
            check_int("expires_at", expires_at, minimum=0)  # a time the database can store
            if expires_at <= now_ms():
                raise InvalidParameter("expires_at", f"{_iso(expires_at)} is not in the future")
        with self.db.write() as conn:
            self._user(conn, user)
            return self._insert_token(conn, user, label=label, expires_at=expires_at, actor=actor or user)

    @staticmethod
    def _insert_token(
        conn: Connection, user: str, *, label: str, expires_at: int | None, actor: str
    ) -> NewToken:
        secret = new_secret()
        token = ApiToken(
            id=new_id(), user=user, label=label, created_at=now_ms(), expires_at=expires_at, revoked_at=None
        )
        store.insert_token(conn, token, hash_token(secret))
        # The audit event names the token by id; neither its secret nor its hash goes in.
        after = {"user": user, "label": label, "expires_at": expires_at}
        audit.record(conn, [AuditEntry(actor, "token.create", "api_token", token.id, after=after)])
        return NewToken(token=token, secret=secret)

    def get_token(self, token_id: str) -> ApiToken:
        with self.db.read() as conn:
            token = store.get_token(conn, token_id)
        if token is None:
            raise NotFound(f"API token {token_id!r} not found")
        return token

    def token_owner(self, token_id: str) -> str | None:
        """The name of the user a token belongs to, or None when there is no such token."""
        with self.db.read() as conn:
            token = store.get_token(conn, token_id)
        return None if token is None else token.user

    def list_tokens(self, user: str) -> list[ApiToken]:
        with self.db.read() as conn:
            self._user(conn, user)
            return store.tokens_of(conn, user)

    def revoke_token(self, token_id: str, *, actor: str) -> ApiToken:
        """Revoke a token for good; revoking it again changes nothing and records nothing."""
        with self.db.write() as conn:
            token = store.get_token(conn, token_id)
            if token is None:
                raise NotFound(f"API token {token_id!r} not found")
            if token.revoked_at is not None:
                return token
            revoked_at = now_ms()
            store.set_revoked(conn, token_id, revoked_at)
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
        if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX):
            raise Unauthenticated(f"not a Plimsoll API token (they start with {TOKEN_PREFIX!r})")
        with self.db.read() as conn:
            row = store.token_by_hash(conn, hash_token(secret))
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
        return store.user_of(row)

    # -- roles ---------------------------------------------------------------------------------

    def grant(self, project: str, user: str, role: Role | str, *, actor: str) -> Role:
        """Give `user` exactly `role` in `project` (replacing any role they held there)."""
        parsed = Role.parse(role)
        with self.db.write() as conn:
            ProjectService.require_in(conn, project)
            self._user(conn, user)
            held = store.held_roles(conn, user, [project]).get(project)
            if held is parsed:
                return parsed
            if held is None:
                store.insert_role(conn, project, user, parsed)
            else:
                store.update_role(conn, project, user, parsed)
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
            held = store.held_roles(conn, user, [project]).get(project)
            if held is None:
                raise NotFound(f"user {user!r} holds no role in project {project!r}")
            store.delete_role(conn, project, user)
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
            return self._roles_in(conn, self._resolve_user(conn, user), [project]).get(project)

    def roles_of(self, user: User | str) -> dict[str, Role]:
        """Every project the user holds a role in (site admins: only those explicitly granted)."""
        with self.db.read() as conn:
            return store.roles_of_user(conn, _name_of(user))

    def members(self, project: str) -> dict[str, Role]:
        """Who holds which role in `project`, by user name."""
        with self.db.read() as conn:
            ProjectService.require_in(conn, project)
            return store.members_of(conn, project)

    def require(self, user: User | str, project: str, role: Role) -> None:
        """PermissionDenied naming the user, the project, the role needed and the role held."""
        with self.db.read() as conn:
            resolved = self._resolve_user(conn, user)
        self.require_all(resolved, [project], role)

    def require_all(self, user: User, projects: Iterable[str], role: Role) -> None:
        """`require` for several projects at once: one query."""
        wanted = sorted(set(projects))
        if user.is_admin:
            return
        with self.db.read() as conn:
            held = store.held_roles(conn, user.name, wanted)
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

    @staticmethod
    def _roles_in(conn: Connection, user: User, projects: list[str]) -> dict[str, Role]:
        if user.is_admin:
            return dict.fromkeys(projects, Role.ADMIN)
        return store.held_roles(conn, user.name, projects)

    def has_any_role(self, user: User) -> bool:
        """Whether the user may see anything at all: a site admin, or a role in some project."""
        if user.is_admin:
            return True
        with self.db.read() as conn:
            return store.has_any_role(conn, user.name)

    def _resolve_user(self, conn: Connection, user: User | str) -> User:
        return user if isinstance(user, User) else self._user(conn, user)
