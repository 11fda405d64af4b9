"""serving: deployments, their history lines and the traffic replicas report

Revision ID: serving0001
Revises: (the first of the `serving` branch)
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "serving0001"
down_revision = None
branch_labels = ("serving",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_deployments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("environment", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("alias", sa.String(length=64), nullable=False),
        sa.Column("follows", sa.Boolean(), nullable=False),
        sa.Column("stable", sa.BigInteger(), nullable=True),
        sa.Column("canary", sa.BigInteger(), nullable=True),
        sa.Column("canary_weight", sa.Float(), nullable=False),
        sa.Column("shadow", sa.BigInteger(), nullable=True),
        sa.Column("sticky_key", sa.String(length=200), nullable=True),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("step_started_at", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.Column("paused_by", sa.String(length=128), nullable=True),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_deployments")),
        sa.UniqueConstraint("project", "name", name="uq_serving_deployments_project_name"),
    )
    op.create_index(
        "ix_serving_deployments_project_model_alias", "serving_deployments", ["project", "model", "alias"]
    )
    op.create_index("ix_serving_deployments_state", "serving_deployments", ["state"])
    op.create_table(
        "serving_history",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("before", sa.Text(), nullable=False),
        sa.Column("after", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("analysis", sa.Text(), nullable=True),
        sa.Column("decision", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_history")),
        sa.UniqueConstraint("deployment_id", "seq", name="uq_serving_history_deployment_id_seq"),
    )
    op.create_table(
        "serving_traffic",
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("replica", sa.String(length=200), nullable=False),
        sa.Column("period_start", sa.BigInteger(), nullable=False),
        sa.Column("requests", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.BigInteger(), nullable=False),
        sa.Column("latency_counts", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "deployment_id", "version", "role", "replica", "period_start", name=op.f("pk_serving_traffic")
        ),
    )
    op.create_index(
        "ix_serving_traffic_deployment_id_period_start", "serving_traffic", ["deployment_id", "period_start"]
    )


def downgrade() -> None:
    for table in ("serving_traffic", "serving_history", "serving_deployments"):
        op.drop_table(table)
