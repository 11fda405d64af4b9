"""outbox: events written with the change they describe, consumer cursors, parked events

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_events",
        sa.Column(
            "id",
            sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("type", sa.String(length=128), nullable=False),
        sa.Column("aggregate", sa.String(length=256), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=True),
        sa.Column("actor", sa.String(length=256), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
        # Ids are never handed out twice on SQLite, not even after the newest rows were pruned.
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_outbox_events_created_at"), "outbox_events", ["created_at"], unique=False)
    op.create_table(
        "outbox_consumers",
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("gap_below", sa.BigInteger(), nullable=True),
        sa.Column("gap_xid", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until", sa.BigInteger(), nullable=False),
        sa.Column("retry_event", sa.BigInteger(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("retry_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_outbox_consumers")),
    )
    op.create_table(
        "outbox_parked",
        sa.Column("consumer", sa.String(length=128), nullable=False),
        sa.Column("event_id", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.Column("parked_at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("claimed_until", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_outbox_parked")),
    )


def downgrade() -> None:
    op.drop_table("outbox_parked")
    op.drop_table("outbox_consumers")
    op.drop_index(op.f("ix_outbox_events_created_at"), table_name="outbox_events")
    op.drop_table("outbox_events")
