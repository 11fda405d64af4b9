from __future__ import annotations

from alembic import context

from plimsoll.core.db import Database
from plimsoll.core.schema import Schema

database: Database = context.config.attributes["database"]
schema: Schema = context.config.attributes["schema"]

with database.engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=schema.metadatas,
        render_as_batch=database.is_sqlite,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
