from __future__ import annotations

from alembic import context

from plimsoll.core.db import Database
from plimsoll.core.schema import load_all_tables

database: Database = context.config.attributes["database"]
target_metadata = load_all_tables()

with database.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=database.is_sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
