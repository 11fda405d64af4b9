"""Projects: the namespace every other record lives in, and the unit of roles. The rules about
them live here once; capabilities ask this service whether a project exists."""

from __future__ import annotations

from plimsoll.core.audit import AuditEntry
from plimsoll.core.changes import changing
from plimsoll.core.db import Connection, Database
from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects import store
from plimsoll.core.validation import MAX_DESCRIPTION_LENGTH, check_name, check_text

MAX_PROJECT_NAME_LENGTH = 128


class ProjectService:
    def __init__(self, db: Database, events: Outbox) -> None:
        self.db = db
        self.events = events

    def create(self, name: str, *, description: str = "", actor: str) -> str:
        """A new namespace for experiments (and, later, datasets and models), with its own roles."""
        check_name("name", name, max_length=MAX_PROJECT_NAME_LENGTH)
        check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        with changing(self.db, self.events, actor) as change:
            if store.project_exists(change.conn, name):
                raise Conflict(f"project {name!r} already exists")
            store.insert_project(change.conn, name, description, now_ms())
            change.audit(
                AuditEntry(actor, "project.create", "project", name, name, None, {"description": description})
            )
            change.emit("project.created", f"project:{name}", {"project": name}, project=name)
        return name

    def list(self) -> list[str]:
        with self.db.read() as conn:
            return store.list_projects(conn)

    @staticmethod
    def exists_in(conn: Connection, name: str) -> bool:
        """Whether the project exists, inside a caller's transaction."""
        return bool(store.project_exists(conn, name))

    @staticmethod
    def require_in(conn: Connection, name: str) -> None:
        """NotFound unless the project exists, inside a caller's transaction."""
        if not store.project_exists(conn, name):
            raise NotFound(f"project {name!r} not found")
