"""gates: release policies, signed decisions, promotions, their approvals and waivers

Revision ID: gates0001
Revises: (the first of the `gates` branch)
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gates0001"
down_revision = None
branch_labels = ("gates",)
depends_on = "0001"  # the tables refer to the trunk's projects table


def upgrade() -> None:
    op.create_table(
        "gate_policies",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("set_by", sa.String(length=128), nullable=False),
        sa.Column("set_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_gate_policies_project_projects")
        ),
        sa.PrimaryKeyConstraint("project", "model", "alias", name=op.f("pk_gate_policies")),
    )
    op.create_table(
        "gate_decisions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("promotion_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("key_id", sa.String(length=16), nullable=False),
        sa.Column("signature", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_gate_decisions_project_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_decisions")),
    )
    op.create_index(op.f("ix_gate_decisions_promotion_id"), "gate_decisions", ["promotion_id"])
    op.create_index(
        "ix_gate_decisions_project_model_version", "gate_decisions", ["project", "model", "version"]
    )
    op.create_table(
        "gate_promotions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.BigInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("approvals_required", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.String(length=32), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("closed_by", sa.String(length=128), nullable=True),
        sa.Column("closed_at", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_gate_promotions_project_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_promotions")),
    )
    op.create_index(
        "ix_gate_promotions_project_model_alias",
        "gate_promotions",
        ["project", "model", "alias", "requested_at"],
    )
    op.create_table(
        "gate_open_promotions",
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("promotion_id", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("project", "model", "alias", name=op.f("pk_gate_open_promotions")),
    )
    op.create_table(
        "gate_approvals",
        sa.Column("promotion_id", sa.String(length=32), nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("approved_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["promotion_id"],
            ["gate_promotions.id"],
            name=op.f("fk_gate_approvals_promotion_id_gate_promotions"),
        ),
        sa.PrimaryKeyConstraint("promotion_id", "approver", name=op.f("pk_gate_approvals")),
    )
    op.create_table(
        "gate_waivers",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("gate", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("approver", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_gate_waivers_project_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_waivers")),
    )
    op.create_index(
        "ix_gate_waivers_project_model_version_alias",
        "gate_waivers",
        ["project", "model", "version", "alias"],
    )


def downgrade() -> None:
    op.drop_table("gate_waivers")
    op.drop_table("gate_approvals")
    op.drop_table("gate_open_promotions")
    op.drop_table("gate_promotions")
    op.drop_table("gate_decisions")
    op.drop_table("gate_policies")
