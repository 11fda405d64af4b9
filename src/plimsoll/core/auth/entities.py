"""Auth's domain types: users, roles, API tokens. No I/O.

A token's secret exists in exactly one place: the `NewToken` returned when it is created. The
database keeps its sha256; `ApiToken` (what every later read returns) has no secret field at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from plimsoll.core.errors import InvalidParameter


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


@dataclass(frozen=True)
class User:
    """A person or a service account. A site admin (`is_admin`) is admin in every project. A
    disabled user (`disabled_at` set) is refused whatever token they present."""

    name: str
    is_admin: bool
    created_at: int
    disabled_at: int | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "is_admin": self.is_admin,
            "created_at": self.created_at,
            "disabled_at": self.disabled_at,
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

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "label": self.label,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
        }


@dataclass(frozen=True)
class Credential:
    """Who a request is from: the user and the token it presented (what a token it creates may
    not outlive)."""

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
