"""registry: what a version is loaded with (signature, input example, model card, the dataset
versions its run used) and what loading it takes (skops types and who approved them, a pickle's
imports and who trusted it)

Revision ID: reg0002
Revises: reg0001
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reg0002"
down_revision = "reg0001"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("signature", sa.Text()),
    ("input_example", sa.Text()),
    ("card", sa.Text()),
    ("datasets", sa.Text()),
    ("needed_types", sa.Text()),
    ("types_approved_by", sa.String(length=128)),
    ("types_approved_at", sa.BigInteger()),
    ("pickle_imports", sa.Text()),
    ("trusted_by", sa.String(length=128)),
    ("trusted_at", sa.BigInteger()),
)


def upgrade() -> None:
    for name, kind in _COLUMNS:
        op.add_column("model_versions", sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_versions") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)
