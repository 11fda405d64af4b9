"""feature_registry: feature definitions and their versions, skew checks and their per-feature verdicts

Revision ID: feature_registry0001
Revises:
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "feature_registry0001"
down_revision = None
branch_labels = ("feature_registry",)
# Its tables refer to `projects`, which the trunk creates.
depends_on = "0001"


def upgrade() -> None:
    op.create_table(
        "features",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["project"], ["projects.name"], name=op.f("fk_features_project_projects")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint("project", "name", name=op.f("uq_features_project_name")),
    )
    op.create_table(
        "feature_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("feature_id", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("dtype", sa.String(length=16), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("function", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("changes", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_feature_versions_feature_id_features")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_versions")),
        sa.UniqueConstraint("feature_id", "digest", name=op.f("uq_feature_versions_feature_id_digest")),
        sa.UniqueConstraint("feature_id", "version", name=op.f("uq_feature_versions_feature_id_version")),
    )
    op.create_table(
        "feature_skew_checks",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("project", sa.String(length=128), nullable=False),
        sa.Column("training_label", sa.Text(), nullable=False),
        sa.Column("training_dataset", sa.Text(), nullable=True),
        sa.Column("training_rows", sa.BigInteger(), nullable=False),
        sa.Column("training_profile", sa.String(length=64), nullable=False),
        sa.Column("serving_label", sa.Text(), nullable=False),
        sa.Column("serving_dataset", sa.Text(), nullable=True),
        sa.Column("serving_rows", sa.BigInteger(), nullable=False),
        sa.Column("serving_profile", sa.String(length=64), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=False),
        sa.Column("correction", sa.String(length=16), nullable=False),
        sa.Column("alpha_effective", sa.Float(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project"], ["projects.name"], name=op.f("fk_feature_skew_checks_project_projects")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_skew_checks")),
    )
    op.create_index(
        "ix_feature_skew_checks_project_created_at", "feature_skew_checks", ["project", "created_at"]
    )
    op.create_table(
        "feature_skew_results",
        sa.Column("check_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.String(length=32), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["feature_skew_checks.id"],
            name=op.f("fk_feature_skew_results_check_id_feature_skew_checks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["feature_versions.id"],
            name=op.f("fk_feature_skew_results_version_id_feature_versions"),
        ),
        sa.PrimaryKeyConstraint("check_id", "position", name=op.f("pk_feature_skew_results")),
    )
    op.create_index(op.f("ix_feature_skew_results_version_id"), "feature_skew_results", ["version_id"])


def downgrade() -> None:
    op.drop_table("feature_skew_results")
    op.drop_table("feature_skew_checks")
    op.drop_table("feature_versions")
    op.drop_table("features")
