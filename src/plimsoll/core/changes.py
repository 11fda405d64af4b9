"""One change to the platform's state: a write transaction together with what it records.

Every service writes through `changing(db, events, actor)`: the rows, the audit entries that
describe them and the events they cause are one unit. Audit entries are written in the
transaction; events are published once it has committed, so nothing is announced for a change
that rolled back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from plimsoll.core import audit
from plimsoll.core.audit import AuditEntry
from plimsoll.core.db import Connection, Database
from plimsoll.core.events import Event, EventBus


@dataclass
class Change:
    conn: Connection
    actor: str
    entries: list[AuditEntry] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def audit(self, entry: AuditEntry) -> None:
        self.entries.append(entry)

    def emit(self, topic: str, payload: dict[str, object]) -> None:
        self.events.append(Event(topic, dict(payload), self.actor))


@contextmanager
def changing(db: Database, events: EventBus, actor: str) -> Iterator[Change]:
    with db.write() as conn:
        change = Change(conn, actor)
        yield change
        audit.record(conn, change.entries)
    for event in change.events:
        events.publish(event)
