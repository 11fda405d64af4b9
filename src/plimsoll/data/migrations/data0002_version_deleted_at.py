"""data: a dataset version may be deleted (its row stays: its number is never given again); version
numbers are 64-bit, as the API admits them (up to 10^18 - 1)

Revision ID: data0002
Revises: data0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data0002"
down_revision = "data0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.add_column(sa.Column("deleted_at", sa.BigInteger(), nullable=True))
        batch.alter_column(
            "version", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("dataset_versions") as batch:
        batch.alter_column(
            "version", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
        batch.drop_column("deleted_at")
