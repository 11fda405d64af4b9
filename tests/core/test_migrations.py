from __future__ import annotations

import sqlalchemy as sa

from plimsoll.core.db import Database, declared_for
from plimsoll.core.migrate import current_revisions, head_revisions
from plimsoll.platform import schema_of


def test_empty_database_migrates_to_head(db: Database) -> None:
    assert current_revisions(db) == head_revisions(db, schema_of())
    inspector = sa.inspect(db.engine)
    present = set(inspector.get_table_names())
    assert {table.name for table in schema_of().tables} <= present
    with db.read() as conn:
        names = conn.execute(sa.text("SELECT name FROM projects")).scalars().all()
    assert names == ["default"]


def test_migrate_is_idempotent(db: Database) -> None:
    again = Database(db.url)
    again.migrate(schema_of())
    again.migrate(schema_of())
    assert current_revisions(again) == head_revisions(again, schema_of())
    again.dispose()


def test_schema_matches_table_definitions(db: Database) -> None:
    """The migrations and the tables the code declares must not drift apart."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def include_object(item: object, *_: object) -> bool:
        return declared_for(db.engine.dialect.name, item)

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = [
            change for metadata in schema_of().metadatas for change in compare_metadata(context, metadata)
        ]
    assert diff == []
