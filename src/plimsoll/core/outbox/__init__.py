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

from typing import TYPE_CHECKING

from plimsoll.core.lazy import lazy_exports

if TYPE_CHECKING:
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

__getattr__ = lazy_exports(
    __name__,
    {
        "Backoff": "plimsoll.core.outbox.entities",
        "ConsumerRunner": "plimsoll.core.outbox.runner",
        "ConsumerState": "plimsoll.core.outbox.entities",
        "Cursor": "plimsoll.core.outbox.entities",
        "Event": "plimsoll.core.outbox.entities",
        "EventCatalog": "plimsoll.core.outbox.catalog",
        "EventPage": "plimsoll.core.outbox.entities",
        "EventType": "plimsoll.core.outbox.catalog",
        "Handler": "plimsoll.core.outbox.runner",
        "NewEvent": "plimsoll.core.outbox.entities",
        "Outbox": "plimsoll.core.outbox.service",
        "ParkedEvent": "plimsoll.core.outbox.entities",
        "check_event_name": "plimsoll.core.outbox.catalog",
    },
)

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
