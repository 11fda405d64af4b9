"""evaluation: stored evaluations of models on data

Revision ID: evaluation0001
Revises:
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "evaluation0001"
down_revision = None
branch_labels = ("evaluation",)
# Its table refers to `projects`, which the trunk creates.
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("model_version", sa.BigInteger(), nullable=True),
        sa.Column("dataset", sa.Text(), nullable=True),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("labels_digest", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project"], ["projects.name"], name=op.f("fk_evaluations_project_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluations")),
    )
    op.create_index("ix_evaluations_project_created_at", "evaluations", ["project", "created_at"])
    op.create_index("ix_evaluations_project_model", "evaluations", ["project", "model_name", "model_version"])


def downgrade() -> None:
    op.drop_table("evaluations")
