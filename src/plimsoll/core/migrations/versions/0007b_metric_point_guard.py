"""metric points: stored once each (series, step, timestamp, value), whatever is sent again

Revision ID: 0007b
Revises: 0007c
Create Date: 2026-12-06

The unique index replaces the (series_id, step) index that history reads walked: reads now walk it
in its own order (step, timestamp), and it covers them. A history page token from before this
revision is refused (it named a point by its row id). Points stored twice before this revision (a
batch applied again after a retry) are removed first, keeping the first copy of each.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007b"
down_revision = "0007c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # GROUP BY puts NULLs (NaN points) together, as the NaN index below does.
    op.execute(
        "DELETE FROM metric_points WHERE id NOT IN "
        "(SELECT MIN(id) FROM metric_points GROUP BY series_id, step, timestamp, value)"
    )
    op.create_index(
        "uq_metric_points_point",
        "metric_points",
        ["series_id", "step", "timestamp", "is_nan", "value"],
        unique=True,
    )
    op.create_index(
        "uq_metric_points_nan",
        "metric_points",
        ["series_id", "step", "timestamp"],
        unique=True,
        sqlite_where=sa.text("value IS NULL"),
        postgresql_where=sa.text("value IS NULL"),
    )
    op.drop_index("ix_metric_points_series_step", table_name="metric_points")


def downgrade() -> None:
    op.create_index("ix_metric_points_series_step", "metric_points", ["series_id", "step"])
    op.drop_index("uq_metric_points_nan", table_name="metric_points")
    op.drop_index("uq_metric_points_point", table_name="metric_points")
