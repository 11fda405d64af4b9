"""Users, API tokens and per-project roles: the rules, one change each (`core.changes.changing`:
the rows, an audit entry and an outbox event commit together).

    service = AuthService(db, outbox)
    first = service.bootstrap_admin("ada")               # NewToken: the secret is shown this once
    user = service.authenticate(first.secret)            # -> User("ada", is_admin=True)
    service.create_user("bob", actor="ada")
    service.grant("default", "bob", Role.CONTRIBUTOR, actor="ada")
    service.require("bob", "default", Role.VIEWER)      # passes: contributor includes viewer
    service.disable_user("bob", actor="ada")             # bob's tokens are refused from now on

Secrets: a token is `plm_` + 40 URL-safe random characters (240 bits). Only its sha256 is stored
(`api_tokens.token_hash`); lookups go by that hash, so no secret is compared, logged or audited.
Error messages name the token by id, never by secret. A site admin (`users.is_admin`) is admin in
every project.

Lifetimes: a token created with another token (over HTTP) may not outlive it, unless a site admin
creates it; with `token_max_days` set, no new token lives longer than that. A token asked for
without an expiry gets the latest one allowed.

A refused token is an `Unauthenticated` whose details carry the `reason` (`FAILURE_REASONS`): the
server counts refusals by reason in `/metrics`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from plimsoll.core.audit import AuditEntry
from plimsoll.core.auth import store
from plimsoll.core.auth.entities import (
    LOCAL_ACTOR,
    ApiToken,
    Binding,
    Credential,
    NewToken,
    Role,
    User,
    UserKind,
    refused,
)
from plimsoll.core.auth.sessions import SignInService
from plimsoll.core.changes import Change, changing
from plimsoll.core.db import Connection, Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects.service import ProjectService
from plimsoll.core.validation import check_int, check_name, check_text

if TYPE_CHECKING:
    from plimsoll.core.auth.sso import SingleSignOn  # it builds on this module

log = logging.getLogger("plimsoll.auth")

TOKEN_PREFIX = "plm_"
TOKEN_RANDOM_CHARS = 40
MAX_USER_NAME_LENGTH = 128
MAX_TOKEN_LABEL_LENGTH = 256
MAX_EMAIL_LENGTH = 320
MAX_DISPLAY_NAME_LENGTH = 256
DAY_MS = 86_400_000
# A token's `last_used_at` is written at most this often: a guarded request is a read, and a
# write per request would cost more than the request.
LAST_USE_RESOLUTION_MS = 60_000
# A token asked for as a number of days (the web UI's forms) lives 1 to this many days, fewer when
# PLIMSOLL_TOKEN_MAX_DAYS says so: a form offers a lifetime, never "until revoked".
DAYS_TOKEN_MAX_DAYS = 365
# `local` is the actor of every change made with authentication off; a user of that name would
# make the audit log ambiguous.
RESERVED_USER_NAMES = frozenset({LOCAL_ACTOR})

# Why a request was not authenticated (the `reason` in an Unauthenticated's details).
MISSING = "missing"  # no token at all
MALFORMED = "malformed"  # an Authorization header that is not `Bearer plm_…`
UNKNOWN = "unknown"
EXPIRED = "expired"
REVOKED = "revoked"
USER_DISABLED = "user_disabled"
FAILURE_REASONS = (MISSING, MALFORMED, UNKNOWN, EXPIRED, REVOKED, USER_DISABLED)


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
    def __init__(
        self,
        db: Database,
        events: Outbox,
        *,
        token_max_days: float | None = None,
        sign_in: SignInService | None = None,
        sso: SingleSignOn | None = None,
    ) -> None:
        self.db = db
        self.events = events
        self.token_max_days = token_max_days
        # Signing in to the web UI: passwords and sessions (sessions.py), and single sign-on when
        # an OpenID provider is configured (sso.py).
        self.sign_in = sign_in or SignInService(db, events)
        self.sso = sso

    # -- users ---------------------------------------------------------------------------------

    def create_user(
        self,
        name: str,
        *,
        is_admin: bool = False,
        actor: str,
        email: str | None = None,
        display_name: str | None = None,
    ) -> User:
        _check_new_user_name(name)
        _check_profile(email, display_name)
        with changing(self.db, self.events, actor) as change:
            return self._insert_user(change, name, is_admin=is_admin, email=email, display_name=display_name)

    @staticmethod
    def _insert_user(
        change: Change,
        name: str,
        *,
        is_admin: bool,
        kind: UserKind = UserKind.PERSON,
        email: str | None = None,
        display_name: str | None = None,
    ) -> User:
        if store.get_user(change.conn, name) is not None:
            raise Conflict(f"user {name!r} already exists")
        user = User(
            name=name,
            is_admin=bool(is_admin),
            created_at=now_ms(),
            kind=kind,
            email=email,
            display_name=display_name,
        )
        store.insert_user(change.conn, user)
        after = {"is_admin": user.is_admin, "kind": kind.value}
        change.audit(AuditEntry(change.actor, "user.create", "user", name, after=after))
        change.emit("user.created", f"user:{name}", {"user": name, "is_admin": user.is_admin}, project=None)
        return user

    def create_service_account(
        self,
        name: str,
        *,
        project: str,
        role: Role | str,
        actor: str,
        label: str = "",
        expires_at: int | None = None,
    ) -> NewToken:
        """A user who can never sign in to the web UI, holding `role` in `project`, and its first
        token, bound to that project and role (shown this once). What a CI job runs as."""
        _check_new_user_name(name)
        parsed = Role.parse(role)
        expires_at = self._checked_expiry(expires_at, None)
        with changing(self.db, self.events, actor) as change:
            _require_bindable_project(change.conn, project)
            self._insert_user(change, name, is_admin=False, kind=UserKind.SERVICE)
            grant_in(change, project, name, parsed, source="manual")
            return self._insert_token(
                change,
                name,
                label=label or "service account",
                expires_at=expires_at,
                via=None,
                binding=Binding(project, parsed),
            )

    def update_profile(self, name: str, *, email: str | None, display_name: str | None, actor: str) -> User:
        _check_profile(email, display_name)
        with changing(self.db, self.events, actor) as change:
            user = self._user(change.conn, name)
            if (user.email, user.display_name) == (email, display_name):
                return user
            store.set_profile(change.conn, name, email=email, display_name=display_name)
            change.audit(
                AuditEntry(
                    actor,
                    "user.profile",
                    "user",
                    name,
                    before={"email": user.email, "display_name": user.display_name},
                    after={"email": email, "display_name": display_name},
                )
            )
        return replace(user, email=email, display_name=display_name)

    def set_site_admin(self, name: str, is_admin: bool, *, actor: str) -> User:
        """Make `name` a site admin, or take it away (never from the last enabled one)."""
        with changing(self.db, self.events, actor) as change:
            user = self._user(change.conn, name)
            if user.is_admin == is_admin:
                return user
            if user.is_service and is_admin:
                raise InvalidParameter(
                    "is_admin", f"{name!r} is a service account; it cannot be a site admin"
                )
            if not is_admin:
                _keep_a_site_admin(change.conn, name)
            store.set_site_admin(change.conn, name, is_admin)
            change.audit(
                AuditEntry(
                    actor,
                    "user.site_admin",
                    "user",
                    name,
                    before={"is_admin": user.is_admin},
                    after={"is_admin": is_admin},
                )
            )
            change.emit(
                "user.admin_changed", f"user:{name}", {"user": name, "is_admin": is_admin}, project=None
            )
        return replace(user, is_admin=is_admin)

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

    def disable_user(self, name: str, *, actor: str) -> User:
        """Refuse every token of `name` from now on (they work again once enabled). Disabling a
        disabled user changes nothing and records nothing. The last enabled site admin cannot be
        disabled: nobody could enable anyone again over the API."""
        with changing(self.db, self.events, actor) as change:
            user = self._user(change.conn, name)
            if user.disabled:
                return user
            if user.is_admin:
                _keep_a_site_admin(change.conn, name)
            disabled_at = now_ms()
            store.set_disabled(change.conn, name, disabled_at)
            # Their open sessions end now, not at their next request.
            store.end_sessions(change.conn, user=name, ended_at=disabled_at, reason="user_disabled")
            change.audit(
                AuditEntry(
                    actor,
                    "user.disable",
                    "user",
                    name,
                    before={"disabled_at": None},
                    after={"disabled_at": disabled_at},
                )
            )
            change.emit("user.disabled", f"user:{name}", {"user": name}, project=None)
        return replace(user, disabled_at=disabled_at)

    def enable_user(self, name: str, *, actor: str) -> User:
        """Let a disabled user's tokens work again (those not revoked or expired meanwhile)."""
        with changing(self.db, self.events, actor) as change:
            user = self._user(change.conn, name)
            if not user.disabled:
                return user
            store.set_disabled(change.conn, name, None)
            change.audit(
                AuditEntry(
                    actor,
                    "user.enable",
                    "user",
                    name,
                    before={"disabled_at": user.disabled_at},
                    after={"disabled_at": None},
                )
            )
            change.emit("user.enabled", f"user:{name}", {"user": name}, project=None)
        return replace(user, disabled_at=None)

    def bootstrap_admin(self, name: str, *, label: str = "bootstrap", actor: str = LOCAL_ACTOR) -> NewToken:
        """Create the first user, a site admin, and a token for them; a Conflict once any user exists."""
        _check_new_user_name(name)
        with changing(self.db, self.events, actor) as change:
            if store.any_user(change.conn, lock=True):
                raise Conflict(
                    "users already exist: bootstrap only creates the first admin; "
                    "ask an admin for a token instead"
                )
            self._insert_user(change, name, is_admin=True)
            limit, _why = self._expiry_limit(None)
            return self._insert_token(change, name, label=label, expires_at=limit, via=None)

    def purge_expired(self, cutoff: int, *, dry_run: bool = False) -> dict[str, int]:
        """Garbage collection: forget sessions that ended or expired before `cutoff`."""
        return self.sign_in.purge(cutoff, dry_run=dry_run)

    def needs_bootstrap(self) -> bool:
        """Whether no user exists yet (auth on, and nobody can sign in until an admin is made)."""
        with self.db.read() as conn:
            return not store.any_user(conn)

    # -- tokens --------------------------------------------------------------------------------

    def create_token(
        self,
        user: str,
        *,
        label: str = "",
        expires_at: int | None = None,
        actor: str | None = None,
        via: Credential | None = None,
        project: str | None = None,
        role: Role | str | None = None,
        from_session: bool = False,
    ) -> NewToken:
        """A new token for `user`; `expires_at` in epoch milliseconds (None: the latest allowed,
        which is "until revoked" when nothing limits it). `via` is the credential of the request
        that asks (None: the server's own host, e.g. the CLI); `from_session`: a signed-in browser
        asks (the token then lives at most `max_token_days()`). `actor` defaults to the user.

        With `project` (and `role`, default viewer) the token is bound: it acts only in that
        project with at most that role (a service account's tokens always are)."""
        check_text("label", label, max_length=MAX_TOKEN_LABEL_LENGTH)
        if role is not None and project is None:
            raise InvalidParameter("project", "a token's role binds it to a project: name the project too")
        binding = None if project is None else Binding(project, Role.parse(role or Role.VIEWER))
        expires_at = self._checked_expiry(expires_at, via, from_session=from_session)
        with changing(self.db, self.events, actor or user) as change:
            owner = self._user(change.conn, user)
            if owner.disabled:
                raise Conflict(f"user {user!r} is disabled; enable them before giving them a token")
            if binding is not None:
                _require_bindable_project(change.conn, binding.project)
            if owner.is_service and binding is None:
                # A well-formed request that the user's kind refuses, like a disabled user's: 409.
                raise Conflict(
                    f"{user!r} is a service account: its tokens are bound to one project and role; "
                    "name the project"
                )
            return self._insert_token(
                change, user, label=label, expires_at=expires_at, via=via, binding=binding
            )

    def max_token_days(self) -> int:
        """The longest lifetime, in whole days, of a token asked for in days (`expiry_in_days`)."""
        if self.token_max_days is None:
            return DAYS_TOKEN_MAX_DAYS
        return max(1, min(DAYS_TOKEN_MAX_DAYS, int(self.token_max_days)))

    def expiry_in_days(self, days: str | int, *, field: str = "expires_in_days") -> int:
        """The expiry (epoch milliseconds) of a token that is to live `days` whole days from now:
        InvalidParameter (on `field`) unless 1 <= days <= `max_token_days()`."""
        limit = self.max_token_days()
        try:
            count = int(days.strip() if isinstance(days, str) else days)
        except ValueError:
            raise InvalidParameter(
                field, f"must be a whole number of days, 1 to {limit}; got {days!r}"
            ) from None
        if isinstance(days, bool) or not 1 <= count <= limit:
            why = " (PLIMSOLL_TOKEN_MAX_DAYS)" if self.token_max_days is not None else ""
            raise InvalidParameter(field, f"a token lives 1 to {limit} days on this server{why}; got {count}")
        return now_ms() + count * DAY_MS

    def _checked_expiry(
        self, expires_at: int | None, via: Credential | None, *, from_session: bool = False
    ) -> int | None:
        """`expires_at` checked against now and the limits (`_expiry_limit`), or the latest one
        allowed when None."""
        if expires_at is not None:
            if isinstance(expires_at, bool) or not isinstance(expires_at, int):
                raise InvalidParameter("expires_at", "must be epoch milliseconds (an integer)")
            check_int("expires_at", expires_at, minimum=0)  # a time the database can store
            if expires_at <= now_ms():
                raise InvalidParameter("expires_at", f"{_iso(expires_at)} is not in the future")
        limit, why = self._expiry_limit(via, from_session=from_session)
        if limit is not None:
            if expires_at is None:
                expires_at = limit
            elif expires_at > limit:
                raise InvalidParameter(
                    "expires_at",
                    f"{_iso(expires_at)} is later than {_iso(limit)}: {why}",
                    details={"limit": limit},
                )
        return expires_at

    def _expiry_limit(self, via: Credential | None, *, from_session: bool = False) -> tuple[int | None, str]:
        """The latest expiry a new token may have, and why; (None, "") when nothing limits it."""
        limits: list[tuple[int, str]] = []
        if from_session:
            # A stolen cookie must not become access for ever: a token made in a browser expires.
            limits.append(
                (
                    now_ms() + self.max_token_days() * DAY_MS,
                    f"a token made from a signed-in browser lives at most {self.max_token_days()} days",
                )
            )
        if self.token_max_days is not None:
            days = f"{self.token_max_days:g} day{'' if self.token_max_days == 1 else 's'}"
            limits.append(
                (
                    now_ms() + int(self.token_max_days * DAY_MS),
                    f"tokens live at most {days} on this server (PLIMSOLL_TOKEN_MAX_DAYS)",
                )
            )
        if via is not None and via.expires_at is not None and not via.user.is_admin:
            limits.append(
                (
                    via.expires_at,
                    f"a token may not outlive the token that creates it ({via.token_id} expires "
                    f"{_iso(via.expires_at)}); a site admin may create longer-lived ones",
                )
            )
        return min(limits) if limits else (None, "")

    @staticmethod
    def _insert_token(
        change: Change,
        user: str,
        *,
        label: str,
        expires_at: int | None,
        via: Credential | None,
        binding: Binding | None = None,
    ) -> NewToken:
        secret = new_secret()
        token = ApiToken(
            id=new_id(),
            user=user,
            label=label,
            created_at=now_ms(),
            expires_at=expires_at,
            revoked_at=None,
            binding=binding,
        )
        store.insert_token(change.conn, token, hash_token(secret))
        # The audit entry and the event name the token by id; neither its secret nor its hash goes in.
        after: dict[str, object] = {"user": user, "label": label, "expires_at": expires_at}
        if binding is not None:
            after["project"], after["role"] = binding.project, binding.role.value
        if via is not None:
            after["created_with"] = via.token_id
        change.audit(AuditEntry(change.actor, "token.create", "api_token", token.id, after=after))
        payload = {"token_id": token.id, "user": user, "label": label, "expires_at": expires_at}
        change.emit("token.created", f"user:{user}", payload, project=None)
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

    def list_tokens(self, user: str | None = None) -> list[ApiToken]:
        """The tokens of `user`, or of every user (None), oldest first; revoked ones included."""
        with self.db.read() as conn:
            if user is not None:
                self._user(conn, user)
            return store.tokens_of(conn, user)

    def revoke_token(self, token_id: str, *, actor: str, owner: str | None = None) -> ApiToken:
        """Revoke a token for good; revoking it again changes nothing and records nothing. With
        `owner`, only a token of theirs: another's is, to them, no token at all (NotFound)."""
        with changing(self.db, self.events, actor) as change:
            token = store.get_token(change.conn, token_id)
            if token is None or (owner is not None and token.user != owner):
                raise NotFound(f"API token {token_id!r} not found")
            if token.revoked_at is not None:
                return token
            revoked_at = now_ms()
            store.set_revoked(change.conn, token_id, revoked_at)
            change.audit(
                AuditEntry(
                    actor,
                    "token.revoke",
                    "api_token",
                    token_id,
                    before={"user": token.user, "revoked_at": None},
                    after={"user": token.user, "revoked_at": revoked_at},
                )
            )
            change.emit(
                "token.revoked",
                f"user:{token.user}",
                {"token_id": token_id, "user": token.user},
                project=None,
            )
        return replace(token, revoked_at=revoked_at)

    def identify(self, secret: str) -> Credential:
        """The user a token secret belongs to and the token itself; Unauthenticated (with its
        `reason`, never echoing the secret) otherwise."""
        if not isinstance(secret, str) or not secret.startswith(TOKEN_PREFIX):
            raise refused(MALFORMED, f"not a Plimsoll API token (they start with {TOKEN_PREFIX!r})")
        with self.db.read() as conn:
            row = store.token_by_hash(conn, hash_token(secret))
            if row is None:
                raise refused(UNKNOWN, "unknown API token")
            token_id = str(row.id)
            if row.revoked_at is not None:
                raise refused(
                    REVOKED,
                    f"API token {token_id} was revoked at {_iso(int(row.revoked_at))}",
                    token_id=token_id,
                )
            if row.expires_at is not None and int(row.expires_at) <= now_ms():
                raise refused(
                    EXPIRED, f"API token {token_id} expired at {_iso(int(row.expires_at))}", token_id=token_id
                )
            user = store.user_of(row)
            if user.disabled_at is not None:
                raise refused(
                    USER_DISABLED,
                    f"user {user.name!r} was disabled at {_iso(user.disabled_at)}; a site admin can enable them",
                    token_id=token_id,
                )
            binding = store.binding_of(row)
            if binding is not None:
                user = self._bound(conn, user, binding)
        self._note_use(token_id, None if row.last_used_at is None else int(row.last_used_at))
        return Credential(user, token_id, None if row.expires_at is None else int(row.expires_at))

    @staticmethod
    def _bound(conn: Connection, user: User, binding: Binding) -> User:
        """The user as a bound token presents them: the binding's project only, at the lower of
        the binding's role and the role they hold there now; never a site admin."""
        held = (
            Role.ADMIN
            if user.is_admin
            else store.held_roles(conn, user.name, [binding.project]).get(binding.project)
        )
        roles = {} if held is None else {binding.project: min(held, binding.role)}
        return replace(user, is_admin=False, bound_roles=roles)

    def _note_use(self, token_id: str, last_used_at: int | None) -> None:
        now = now_ms()
        if last_used_at is not None and now - last_used_at < LAST_USE_RESOLUTION_MS:
            return
        try:
            with self.db.write() as conn:
                store.set_token_used(conn, token_id, now)
        except Exception:  # when a token was last used is a hint, never a reason to refuse it
            log.debug("could not record the use of token %s", token_id, exc_info=True)

    def authenticate(self, secret: str) -> User:
        """The user a token secret belongs to (see `identify`)."""
        return self.identify(secret).user

    # -- roles ---------------------------------------------------------------------------------

    def grant(self, project: str, user: str, role: Role | str, *, actor: str) -> Role:
        """Give `user` exactly `role` in `project` (replacing any role they held there)."""
        parsed = Role.parse(role)
        with changing(self.db, self.events, actor) as change:
            ProjectService.require_in(change.conn, project)
            self._user(change.conn, user)
            grant_in(change, project, user, parsed, source="manual")
        return parsed

    def revoke_role(self, project: str, user: str, *, actor: str) -> None:
        """Take away `user`'s role in `project`; NotFound when they held none."""
        with changing(self.db, self.events, actor) as change:
            held = store.held_roles(change.conn, user, [project]).get(project)
            if held is None:
                raise NotFound(f"user {user!r} holds no role in project {project!r}")
            revoke_in(change, project, user, held)

    def role_of(self, user: User | str, project: str) -> Role | None:
        """The user's role in `project` (admin for site admins), or None."""
        with self.db.read() as conn:
            return self._roles_in(conn, self._resolve_user(conn, user), [project]).get(project)

    def roles_of(self, user: User | str) -> dict[str, Role]:
        """Every project the user holds a role in (site admins: only those explicitly granted; a
        bound token's user: its binding's)."""
        if isinstance(user, User) and user.bound_roles is not None:
            return dict(user.bound_roles)
        with self.db.read() as conn:
            return store.roles_of_user(conn, _name_of(user))

    def role_sources(self, user: str) -> dict[str, tuple[Role, str]]:
        """Every role of `user` by project, with where it came from (`manual` or `sso`)."""
        with self.db.read() as conn:
            return store.role_sources(conn, user)

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
            held = self._roles_in(conn, user, wanted)
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

    def visible_projects(self, user: User, projects: Iterable[str]) -> list[str]:
        """Those of `projects` the user may see: every one for a site admin, else those where the
        user holds a role. A project's name is not shown to someone who holds nothing there."""
        if user.is_admin:
            return list(projects)
        held = self.roles_of(user)
        return [project for project in projects if project in held]

    def require_somewhere(self, user: User, role: Role) -> None:
        """PermissionDenied unless `user` holds `role` (or above) in at least one project: what a
        request that names its projects in its body needs before that body is worth reading."""
        if user.is_admin:
            return
        if user.bound_roles is not None:
            held = dict(user.bound_roles)
            if any(has >= role for has in held.values()):
                return
        else:
            with self.db.read() as conn:
                if store.has_any_role(conn, user.name, [held for held in Role if held >= role]):
                    return
                held = store.roles_of_user(conn, user.name)
        shown = ", ".join(f"{r.value} in {p!r}" for p, r in list(held.items())[:5]) or "no role anywhere"
        raise PermissionDenied(
            f"user {user.name!r} needs role {role.value} in the project this request names, and holds "
            f"it in no project (holds {shown})",
            details={"user": user.name, "needed": role.value},
        )

    @staticmethod
    def _roles_in(conn: Connection, user: User, projects: list[str]) -> dict[str, Role]:
        if user.bound_roles is not None:
            return {project: user.bound_roles[project] for project in projects if project in user.bound_roles}
        if user.is_admin:
            return dict.fromkeys(projects, Role.ADMIN)
        return store.held_roles(conn, user.name, projects)

    def has_any_role(self, user: User) -> bool:
        """Whether the user may see anything at all: a site admin, or a role in some project."""
        if user.bound_roles is not None:
            return bool(user.bound_roles)
        if user.is_admin:
            return True
        with self.db.read() as conn:
            return store.has_any_role(conn, user.name)

    def _resolve_user(self, conn: Connection, user: User | str) -> User:
        return user if isinstance(user, User) else self._user(conn, user)


def grant_in(change: Change, project: str, user: str, role: Role, *, source: str) -> None:
    """Inside a change: give `user` exactly `role` in `project` (`source`: `manual` or `sso`)."""
    held = store.held_roles(change.conn, user, [project]).get(project)
    if held is role:
        return
    if held is None:
        store.insert_role(change.conn, project, user, role, source=source)
    else:
        store.update_role(change.conn, project, user, role, source=source)
    change.audit(
        AuditEntry(
            change.actor,
            "role.grant",
            "project_role",
            f"{project}/{user}",
            project=project,
            before=None if held is None else {"user": user, "role": held.value},
            # a role mapped from the identity provider says so; one granted by an admin is the norm
            after={"user": user, "role": role.value, **({"source": source} if source != "manual" else {})},
        )
    )
    payload = {
        "project": project,
        "user": user,
        "role": role.value,
        "previous": None if held is None else held.value,
    }
    change.emit("role.granted", f"user:{user}", payload, project=project)


def revoke_in(change: Change, project: str, user: str, held: Role) -> None:
    """Inside a change: take away the role `user` holds in `project`."""
    store.delete_role(change.conn, project, user)
    change.audit(
        AuditEntry(
            change.actor,
            "role.revoke",
            "project_role",
            f"{project}/{user}",
            project=project,
            before={"user": user, "role": held.value},
        )
    )
    change.emit(
        "role.revoked",
        f"user:{user}",
        {"project": project, "user": user, "role": held.value},
        project=project,
    )


def _require_bindable_project(conn: Connection, project: str) -> None:
    """A project a token is to be bound to is part of what was asked: one that does not exist is a
    bad parameter (400, on the `project` field), not a missing page."""
    try:
        ProjectService.require_in(conn, project)
    except NotFound:
        raise InvalidParameter("project", f"there is no project {project!r}") from None


def _keep_a_site_admin(conn: Connection, name: str) -> None:
    """A Conflict when `name` is the last enabled site admin: nobody could undo what follows."""
    if store.enabled_admins(conn, lock=True) == [name]:
        raise Conflict(
            f"user {name!r} is the last enabled site admin; make another site admin first",
            details={"user": name},
        )


def _check_profile(email: str | None, display_name: str | None) -> None:
    if email is not None:
        check_text("email", email, max_length=MAX_EMAIL_LENGTH)
        if email.count("@") != 1 or email.startswith("@") or email.endswith("@"):
            raise InvalidParameter("email", f"{email!r} is not an email address (name@domain)")
    if display_name is not None:
        check_text("display_name", display_name, max_length=MAX_DISPLAY_NAME_LENGTH)
