"""ingest_batches: a batch id is remembered per actor, so that one user cannot burn another's

Revision ID: 0007c
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007c"
down_revision = "0007a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.rename_table("ingest_batches", "ingest_batches_0006")
    if op.get_bind().dialect.name == "postgresql":  # constraint names are per schema there
        op.execute(
            "ALTER TABLE ingest_batches_0006 RENAME CONSTRAINT pk_ingest_batches TO pk_ingest_batches_0006"
        )
    op.create_table(
        "ingest_batches",
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("actor", "id", name=op.f("pk_ingest_batches")),
    )
    # Batch ids recorded before knew no actor: the user who created the batch's run sent it, as a
    # rule; with authentication off every actor is `local`.
    op.execute(
        'INSERT INTO ingest_batches (actor, id, run_id, created_at) SELECT COALESCE(runs."user", '
        "'local'), old.id, old.run_id, old.created_at FROM ingest_batches_0006 old "
        "LEFT JOIN runs ON runs.id = old.run_id"
    )
    op.drop_table("ingest_batches_0006")


def downgrade() -> None:
    op.rename_table("ingest_batches", "ingest_batches_0007c")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE ingest_batches_0007c RENAME CONSTRAINT pk_ingest_batches TO pk_ingest_batches_0007c"
        )
    op.create_table(
        "ingest_batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_batches")),
    )
    op.execute(
        "INSERT INTO ingest_batches (id, run_id, created_at) SELECT id, MIN(run_id), MIN(created_at) "
        "FROM ingest_batches_0007c GROUP BY id"
    )
    op.drop_table("ingest_batches_0007c")
