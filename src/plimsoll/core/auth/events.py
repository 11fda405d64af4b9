"""The events of users, tokens and roles: what a webhook may tell a security team. They name a
token by its id, never by its secret."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class UserCreated(BaseModel):
    user: str
    is_admin: bool


class UserChanged(BaseModel):
    user: str


class UserAdminChanged(BaseModel):
    user: str
    is_admin: bool


class TokenCreated(BaseModel):
    token_id: str
    user: str
    label: str
    expires_at: int | None


class TokenRevoked(BaseModel):
    token_id: str
    user: str


class RoleGranted(BaseModel):
    project: str
    user: str
    role: str
    previous: str | None


class RoleRevoked(BaseModel):
    project: str
    user: str
    role: str


EVENTS = (
    EventType("user.created", "A user was created.", UserCreated),
    EventType("user.disabled", "A user was disabled: their tokens are refused until enabled.", UserChanged),
    EventType("user.enabled", "A disabled user was enabled again.", UserChanged),
    EventType("user.admin_changed", "A user was made a site admin, or stopped being one.", UserAdminChanged),
    EventType(
        "token.created", "An API token was created (named by id; the secret is never sent).", TokenCreated
    ),
    EventType("token.revoked", "An API token was revoked.", TokenRevoked),
    EventType("role.granted", "A user was given a role in a project (or their role changed).", RoleGranted),
    EventType("role.revoked", "A user's role in a project was taken away.", RoleRevoked),
)
