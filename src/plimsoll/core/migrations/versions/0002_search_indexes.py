"""search indexes: param and tag (key, value) on SQLite, tags clustered on its key there

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return  # PostgreSQL plans searches from its own statistics (tracking/search.py)
    # Rebuilt WITHOUT ROWID, as params and latest_metrics are (0001 gave the option to
    # experiment_tags instead): a search probe on a tag is then one b-tree descent.
    with op.batch_alter_table("tags", recreate="always", table_kwargs={"sqlite_with_rowid": False}):
        pass
    op.create_index("ix_params_key_value", "params", ["key", "value"])
    op.create_index("ix_tags_key_value", "tags", ["key", "value"])


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.drop_index("ix_tags_key_value", table_name="tags")
    op.drop_index("ix_params_key_value", table_name="params")
    with op.batch_alter_table("tags", recreate="always", table_kwargs={"sqlite_with_rowid": True}):
        pass
