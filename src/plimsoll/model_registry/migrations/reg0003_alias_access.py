"""registry: who may request, approve or roll back each alias

Revision ID: reg0003
Revises: reg0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reg0003"
down_revision = "reg0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("model_aliases", sa.Column("access", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_aliases") as batch:
        batch.drop_column("access")
