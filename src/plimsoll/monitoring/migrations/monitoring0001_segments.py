"""monitoring: the index of logged predictions, labels and outcomes

Revision ID: monitoring0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "monitoring0001"
down_revision = None
branch_labels = ("monitoring",)
# Its table refers to `projects`, which the trunk creates.
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "monitoring_segments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("min_ts", sa.BigInteger(), nullable=False),
        sa.Column("max_ts", sa.BigInteger(), nullable=False),
        sa.Column("batch", sa.String(length=64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_monitoring_segments_project_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_segments")),
        sa.UniqueConstraint(
            "project", "batch", "part", name=op.f("uq_monitoring_segments_project_batch_part")
        ),
    )
    op.create_index(
        "ix_monitoring_segments_where",
        "monitoring_segments",
        ["project", "kind", "model", "version", "day"],
    )


def downgrade() -> None:
    op.drop_table("monitoring_segments")
