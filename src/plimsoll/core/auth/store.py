"""Tables of users, hashed API tokens and per-project roles."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, String, Table

from plimsoll.core.db import metadata

users = Table(
    "users",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("is_admin", Boolean, nullable=False, default=False),
    Column("created_at", BigInteger, nullable=False),
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
