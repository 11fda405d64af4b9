"""The catalog: names, registration, payload validation, and `append` refusing what it does not know."""

from __future__ import annotations

import pytest
from outbox_helpers import NOTE_SCHEMA, ThingCreated, created

from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, PayloadTooLarge
from plimsoll.core.outbox import Cursor, EventCatalog, EventType, NewEvent, Outbox


@pytest.mark.parametrize(
    "name",
    [
        "thing",
        "Thing.created",
        "thing.Created",
        "thing.create",
        "thing.creates",
        "thing-x.created",
        "thing.created.again",
        ".created",
        "thing.",
        "thing.2created",
        "",
        "thing created",
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        EventCatalog().register(EventType(name, "", ThingCreated))
    assert caught.value.field == "name"


@pytest.mark.parametrize("name", ["thing.created", "thing.stage_changed", "mail.sent", "model_version.built"])
def test_good_names_are_accepted(name: str) -> None:
    catalog = EventCatalog()
    catalog.register(EventType(name, "", ThingCreated))
    assert name in catalog
    assert catalog.get(name).name == name


def test_registration_is_idempotent_but_refuses_another_schema(catalog: EventCatalog) -> None:
    catalog.register(EventType("thing.created", "A thing was created.", ThingCreated))
    with pytest.raises(Conflict):
        catalog.register(EventType("thing.created", "A thing was created.", {"type": "object"}))


def test_unsupported_json_schema_keywords_are_refused() -> None:
    with pytest.raises(InvalidParameter, match="unsupported keywords"):
        EventCatalog().register(EventType("thing.created", "", {"type": "object", "oneOf": []}))


def test_list_gives_descriptions_and_payload_schemas(catalog: EventCatalog) -> None:
    listed = {item["name"]: item for item in catalog.list()}
    assert list(listed) == ["note.written", "thing.created", "thing.updated"]
    assert listed["thing.created"]["description"] == "A thing was created."
    assert listed["thing.created"]["payload"]["properties"]["name"]["type"] == "string"
    assert listed["note.written"]["payload"] == NOTE_SCHEMA
    with pytest.raises(NotFound):
        catalog.get("thing.deleted")


def test_append_refuses_unknown_types_and_bad_payloads(db: Database, outbox: Outbox) -> None:
    cases: list[tuple[NewEvent, str]] = [
        (NewEvent("thing.deleted", "thing:1", {}, actor="ada"), "events[0].type"),
        (NewEvent("thing.created", "thing:1", {"seq": 1}, actor="ada"), "events[0].payload.name"),
        (
            NewEvent("thing.created", "thing:1", {"name": "x", "seq": "many"}, actor="ada"),
            "events[0].payload.seq",
        ),
        (NewEvent("note.written", "note:1", {"tags": []}, actor="ada"), "events[0].payload.text"),
        (NewEvent("note.written", "note:1", {"text": 3}, actor="ada"), "events[0].payload.text"),
        (
            NewEvent("note.written", "note:1", {"text": "x", "tags": [1]}, actor="ada"),
            "events[0].payload.tags[0]",
        ),
        (
            NewEvent("note.written", "note:1", {"text": "x", "extra": 1}, actor="ada"),
            "events[0].payload.extra",
        ),
        (NewEvent("thing.created", "", {"name": "x"}, actor="ada"), "events[0].aggregate"),
    ]
    for new, field in cases:
        with pytest.raises(InvalidParameter) as caught, db.write() as conn:
            outbox.append(conn, [new])
        assert caught.value.field == field, new
    with pytest.raises(InvalidParameter) as caught, db.write() as conn:
        outbox.append(conn, [created("thing:1"), NewEvent("thing.updated", "thing:1", {"seq": "x"}, "ada")])
    assert caught.value.field == "events[1].payload.seq"
    # Nothing of the refused appends was stored; a valid one is, with its payload normalised.
    with db.write() as conn:
        ids = outbox.append(
            conn, [created("thing:1", 3), NewEvent("note.written", "note:1", {"text": "hi"}, "bob")]
        )
    events, _ = outbox.read(Cursor())
    assert [event.id for event in events] == ids
    assert events[0].payload == {"name": "thing:1", "seq": 3}
    assert (events[0].project, events[0].actor, events[1].project) == ("default", "ada", None)


def test_append_needs_an_open_transaction(db: Database, outbox: Outbox) -> None:
    with db.engine.connect() as conn, pytest.raises(InvalidParameter):
        outbox.append(conn, [created("thing:1")])


def test_append_refuses_oversized_payloads(db: Database, outbox: Outbox) -> None:
    with pytest.raises(PayloadTooLarge) as caught, db.write() as conn:
        outbox.append(conn, [NewEvent("note.written", "note:1", {"text": "x" * 70_000}, actor="ada")])
    assert caught.value.field == "events[0].payload"
