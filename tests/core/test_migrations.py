from __future__ import annotations

import sqlalchemy as sa

from plimsoll.core.db import Database, declared_for
from plimsoll.core.migrate import current_revision, head_revision
from plimsoll.core.schema import load_all_tables


def test_empty_database_migrates_to_head(db: Database) -> None:
    assert current_revision(db) == head_revision(db)
    inspector = sa.inspect(db.engine)
    present = set(inspector.get_table_names())
    assert {table.name for table in load_all_tables().sorted_tables} <= present
    with db.read() as conn:
        names = conn.execute(sa.text("SELECT name FROM projects")).scalars().all()
    assert names == ["default"]


def test_migrate_is_idempotent(db: Database) -> None:
    again = Database(db.url)
    again.migrate()
    again.migrate()
    assert current_revision(again) == head_revision(again)
    again.dispose()


def test_schema_matches_table_definitions(db: Database) -> None:
    """The migrations and the tables the code declares must not drift apart."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    def include_object(item: object, *_: object) -> bool:
        return declared_for(db.engine.dialect.name, item)

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(context, load_all_tables())
    assert diff == []
