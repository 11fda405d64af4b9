"""Alembic, driven from code: the server and the embedded SDK call `upgrade_to_head` on open.

The platform's trunk (core/migrations/versions) is one branch; a capability with migrations of its
own adds its versions folder as another branch, so the database is at head when every branch is.
"""

from __future__ import annotations

import fcntl
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from plimsoll.core.db import Database
    from plimsoll.core.schema import Schema

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_LOCK_KEY = zlib.crc32(b"plimsoll-migrations")


def alembic_config(database: Database, schema: Schema) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database.url.replace("%", "%%"))
    # A space-separated list; Alembic reads `path_separator` to split it.
    config.set_main_option("path_separator", "space")
    config.set_main_option("version_locations", " ".join(str(p) for p in schema.version_locations))
    config.attributes["database"] = database
    config.attributes["schema"] = schema
    return config


def head_revisions(database: Database, schema: Schema) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(database, schema)).get_heads())


def current_revisions(database: Database) -> set[str]:
    with database.engine.connect() as conn:
        return set(MigrationContext.configure(conn).get_current_heads())


def upgrade_to_head(database: Database, schema: Schema) -> None:
    if current_revisions(database) == head_revisions(database, schema):
        return
    with _migration_lock(database):
        if current_revisions(database) != head_revisions(database, schema):
            command.upgrade(alembic_config(database, schema), "heads")


@contextmanager
def _migration_lock(database: Database) -> Iterator[None]:
    """Several servers (or SDK processes) may start at once; only one migrates, the others wait."""
    if database.is_postgres:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _LOCK_KEY})
                conn.commit()
        return
    db_path = make_url(database.url).database
    if not db_path or db_path == ":memory:":
        yield
        return
    lock_path = Path(db_path + ".migrate-lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
