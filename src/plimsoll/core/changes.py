"""One change to the platform's state: a write transaction together with what it records.

Every service writes through `changing(db, outbox, actor)`: the rows, the audit entries that
describe them and the events they cause are one unit. Audit entries and events are written in the
transaction itself (events into the outbox), so an event is published exactly when its change
commits: never for a change that rolled back, and never lost to a crash after the commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from plimsoll.core import audit
from plimsoll.core.audit import AuditEntry
from plimsoll.core.db import Connection, Database
from plimsoll.core.outbox import NewEvent, Outbox


@dataclass
class Change:
    conn: Connection
    actor: str
    entries: list[AuditEntry] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)  # filled in once the events are appended

    def audit(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def emit(self, type: str, aggregate: str, payload: dict[str, Any], *, project: str | None) -> None:
        """An event of a registered `type` about `aggregate` (`run:<id>`): consumers see one
        aggregate's events in commit order."""
        self.events.append(NewEvent(type, aggregate, payload, self.actor, project))


@contextmanager
def changing(db: Database, outbox: Outbox, actor: str) -> Iterator[Change]:
    with db.write() as conn:
        change = Change(conn, actor)
        yield change
        audit.record(conn, change.entries)
        change.event_ids = outbox.append(conn, change.events)
