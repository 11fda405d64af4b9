"""lineage: the graph's nodes and edges

Revision ID: lin0001
Revises: (the first of the `lineage` branch)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "lin0001"
down_revision = None
branch_labels = ("lineage",)
depends_on = "0001"  # lineage_nodes.project refers to the trunk's projects table


def upgrade() -> None:
    op.create_table(
        "lineage_nodes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=520), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("attributes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("tombstoned_at", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_lineage_nodes_project_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_nodes")),
        sa.UniqueConstraint("project", "kind", "key", name=op.f("uq_lineage_nodes_project_kind_key")),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("context", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"], ["lineage_nodes.id"], name=op.f("fk_lineage_edges_source_id_lineage_nodes")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["lineage_nodes.id"], name=op.f("fk_lineage_edges_target_id_lineage_nodes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lineage_edges")),
        sa.UniqueConstraint(
            "source_id", "target_id", "role", name=op.f("uq_lineage_edges_source_id_target_id_role")
        ),
    )
    op.create_index("ix_lineage_edges_target_id_source_id", "lineage_edges", ["target_id", "source_id"])


def downgrade() -> None:
    op.drop_index("ix_lineage_edges_target_id_source_id", table_name="lineage_edges")
    op.drop_table("lineage_edges")
    op.drop_table("lineage_nodes")
