"""Auth's domain types: users, roles, API tokens. No I/O.

A token's secret exists in exactly one place: the `NewToken` returned when it is created. The
database keeps its sha256; `ApiToken` (what every later read returns) has no secret field at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from plimsoll.core.errors import InvalidParameter, Unauthenticated


def refused(reason: str, message: str, **details: object) -> Unauthenticated:
    """A refused credential: the `reason` (counted in /metrics) travels in the details."""
    return Unauthenticated(message, details={"reason": reason, **details})


# The actor of every change made without authentication (a laptop, embedded, or a server without
# --auth): one name, so that the audit log and "created by" read alike wherever it came from.
LOCAL_ACTOR = "local"


class Role(StrEnum):
    """A user's role in one project. Each role includes every lower one:
    viewer < contributor < approver < admin."""

    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    APPROVER = "approver"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return _RANKS[self]

    @classmethod
    def parse(cls, value: object, *, field: str = "role") -> Role:
        """The role named by `value`, or an InvalidParameter listing the roles there are."""
        try:
            if not isinstance(value, str):
                raise ValueError(value)
            return cls(value)
        except ValueError:
            names = ", ".join(role.value for role in cls)
            raise InvalidParameter(field, f"{value!r} is not a role; the roles are {names}") from None

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Role):
            return NotImplemented
        return self.rank >= other.rank


_RANKS = {Role.VIEWER: 0, Role.CONTRIBUTOR: 1, Role.APPROVER: 2, Role.ADMIN: 3}


class UserKind(StrEnum):
    """A person signs in to the web UI; a service account (a CI job, say) only presents tokens
    bound to one project and one role, and can never sign in."""

    PERSON = "person"
    SERVICE = "service"


@dataclass(frozen=True)
class Binding:
    """What a bound token may do: act in `project` with at most `role`, and nothing else (never
    as a site admin, never on another project, never manage tokens)."""

    project: str
    role: Role


@dataclass(frozen=True)
class User:
    """A person or a service account. A site admin (`is_admin`) is admin in every project. A
    disabled user (`disabled_at` set) is refused whatever token or session they present.

    `bound_roles` is set only on the user of a request made with a bound token: their roles are
    then exactly these (the binding's project, at the lower of the binding's role and the role
    they hold there; empty when they hold none), computed when the token was checked
    (`AuthService.identify`); such a user is never a site admin."""

    name: str
    is_admin: bool
    created_at: int
    disabled_at: int | None = None
    kind: UserKind = UserKind.PERSON
    has_password: bool = False
    must_change_password: bool = False
    email: str | None = None
    display_name: str | None = None
    bound_roles: dict[str, Role] | None = field(default=None, hash=False)

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def is_service(self) -> bool:
        return self.kind is UserKind.SERVICE

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "is_admin": self.is_admin,
            "created_at": self.created_at,
            "disabled_at": self.disabled_at,
            "kind": self.kind.value,
            "has_password": self.has_password,
            "email": self.email,
            "display_name": self.display_name,
        }


@dataclass(frozen=True)
class ApiToken:
    """A token as stored: who it belongs to and whether it still works. Never carries the secret."""

    id: str
    user: str
    label: str
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    binding: Binding | None = None
    last_used_at: int | None = None

    def state(self, now: int) -> str:
        """`active`, `expired` or `revoked`, as a list of tokens shows it."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "project": None if self.binding is None else self.binding.project,
            "role": None if self.binding is None else self.binding.role.value,
            "last_used_at": self.last_used_at,
        }


@dataclass(frozen=True)
class Credential:
    """Who a request made with a token is from: the user and the token it presented (what a token
    it creates may not outlive)."""

    user: User
    token_id: str
    expires_at: int | None


@dataclass(frozen=True)
class NewToken:
    """A token just created: its record and its secret, shown this once and never again."""

    token: ApiToken
    secret: str

    def __repr__(self) -> str:
        # A repr is what lands in logs and tracebacks: keep the secret out of it.
        return f"NewToken(token={self.token!r}, secret='plm_…')"

    def to_dict(self) -> dict[str, Any]:
        return {**self.token.to_dict(), "token": self.secret}


class SignInMethod(StrEnum):
    PASSWORD = "password"
    OIDC = "oidc"


@dataclass(frozen=True)
class Session:
    """A signed-in browser: a server-side record, so that it can be listed and ended. Its secret
    (the cookie) exists only in the `NewSession` returned when it starts; the database keeps its
    sha256. It ends at `expires_at` whatever happens, and earlier after `idle_ms` without a request."""

    id: str
    user: str
    method: SignInMethod
    created_at: int
    last_seen_at: int
    expires_at: int
    ended_at: int | None = None
    end_reason: str | None = None
    address: str | None = None
    user_agent: str | None = None

    def idle_until(self, idle_ms: int) -> int:
        return min(self.last_seen_at + idle_ms, self.expires_at)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "method": self.method.value,
            "created_at": self.created_at,
            "last_seen_at": self.last_seen_at,
            "expires_at": self.expires_at,
            "ended_at": self.ended_at,
            "end_reason": self.end_reason,
            "address": self.address,
            "user_agent": self.user_agent,
        }


@dataclass(frozen=True)
class SessionCredential:
    """Who a browser request is from: the user, their session and the session's CSRF token (which
    every state-changing request of that session must carry)."""

    user: User
    session: Session
    csrf_token: str


@dataclass(frozen=True)
class NewSession:
    """A session just started: the secret goes into the cookie and nowhere else."""

    credential: SessionCredential
    secret: str

    def __repr__(self) -> str:
        return f"NewSession(session={self.credential.session!r}, secret='pls_…')"
