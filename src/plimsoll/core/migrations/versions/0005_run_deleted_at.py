"""runs.deleted_at: when a run was deleted, so that garbage collection purges it after the retention

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("deleted_at", sa.BigInteger(), nullable=True))
    # Runs deleted before this column existed count as deleted now: the retention starts today.
    op.execute(
        sa.text("UPDATE runs SET deleted_at = :now WHERE lifecycle_stage = 'deleted'").bindparams(
            now=int(time.time() * 1000)
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("deleted_at")
