"""data: validations of dataset versions (pandera schemas and what failed), and each version's
latest outcome

Revision ID: data0003
Revises: data0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "data0003"
down_revision = "data0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("dataset_versions", sa.Column("validation", sa.String(length=8), nullable=True))
    op.create_table(
        "dataset_validations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("schema", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["dataset_versions.id"],
            name=op.f("fk_dataset_validations_version_id_dataset_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_validations")),
    )
    op.create_index(
        op.f("ix_dataset_validations_version_id"), "dataset_validations", ["version_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_dataset_validations_version_id"), table_name="dataset_validations")
    op.drop_table("dataset_validations")
    with op.batch_alter_table("dataset_versions") as batch:
        batch.drop_column("validation")
