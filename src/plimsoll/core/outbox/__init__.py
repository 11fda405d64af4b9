"""Events through a transactional outbox: written with the change they describe, delivered after.

    catalog = EventCatalog()
    catalog.register(EventType("thing.created", "A thing was created.", ThingCreated))
    outbox = Outbox(db, catalog)
    with db.write() as conn:
        outbox.append(conn, [NewEvent("thing.created", "thing:42", {"id": "42"}, actor="ada")])
    runner = ConsumerRunner(outbox)
    runner.add_work("mailer", send_mail)
    runner.start()

`entities` holds the values and the no-skip rule, `catalog` the event types, `store` the tables
and SQL, `service` the outbox's operations, `runner` the delivery thread.
"""

from plimsoll.core.outbox.catalog import EventCatalog, EventType, check_event_name
from plimsoll.core.outbox.entities import (
    Backoff,
    ConsumerState,
    Cursor,
    Event,
    EventPage,
    NewEvent,
    ParkedEvent,
)
from plimsoll.core.outbox.runner import ConsumerRunner, Handler
from plimsoll.core.outbox.service import Outbox

__all__ = [
    "Backoff",
    "ConsumerRunner",
    "ConsumerState",
    "Cursor",
    "Event",
    "EventCatalog",
    "EventPage",
    "EventType",
    "Handler",
    "NewEvent",
    "Outbox",
    "ParkedEvent",
    "check_event_name",
]
