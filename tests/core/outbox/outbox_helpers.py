"""The tests' own event types and small helpers, shared by the tests and their child processes."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from pydantic import BaseModel

from plimsoll.core.db import Database
from plimsoll.core.outbox import Cursor, Event, EventCatalog, EventType, NewEvent, Outbox

CHILD = Path(__file__).with_name("outbox_child.py")


class ThingCreated(BaseModel):
    name: str
    seq: int = 0


class ThingUpdated(BaseModel):
    seq: int


NOTE_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    "required": ["text"],
    "additionalProperties": False,
}


def test_catalog() -> EventCatalog:
    catalog = EventCatalog()
    catalog.register(
        EventType("thing.created", "A thing was created.", ThingCreated),
        EventType("thing.updated", "A thing changed.", ThingUpdated),
        EventType("note.written", "A note was written.", NOTE_SCHEMA),
    )
    return catalog


test_catalog.__test__ = False  # type: ignore[attr-defined]  # not a test, despite its name


def created(aggregate: str, seq: int = 0, actor: str = "ada") -> NewEvent:
    return NewEvent(
        "thing.created", aggregate, {"name": aggregate, "seq": seq}, actor=actor, project="default"
    )


def updated(aggregate: str, seq: int, actor: str = "ada") -> NewEvent:
    return NewEvent("thing.updated", aggregate, {"seq": seq}, actor=actor)


def append_committed(outbox: Outbox, db: Database, *events: NewEvent) -> list[int]:
    with db.write() as conn:
        return outbox.append(conn, list(events))


def drain(
    outbox: Outbox, cursor: Cursor, count: int, *, timeout: float = 30.0, limit: int = 500
) -> tuple[list[Event], Cursor]:
    """Poll (every 20 ms) until `count` events were read, and then until nothing more is
    deliverable; at most `timeout` seconds (a liveness bound)."""
    seen: list[Event] = []
    deadline = time.monotonic() + timeout
    while True:
        events, cursor = outbox.read(cursor, limit)
        seen.extend(events)
        if not events and (len(seen) >= count or time.monotonic() > deadline):
            return seen, cursor
        if not events:
            time.sleep(0.02)


def eventually(check: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02) -> Any:
    """The first truthy result of `check` within `timeout` (a liveness bound, not a speed test)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        time.sleep(interval)


class Children:
    """Consumer processes (`outbox_child.py`); every one still running is killed at teardown."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.procs: list[subprocess.Popen[bytes]] = []
        self._files: list[IO[bytes]] = []

    def start(
        self, url: str, mode: str, name: str, log: Path, *, block: Path | None = None
    ) -> subprocess.Popen[bytes]:
        args = [sys.executable, str(CHILD), url, mode, name, str(log), str(block or "")]
        stderr = open(f"{log}.stderr", "ab")  # noqa: SIM115  (closed in close())
        self._files.append(stderr)
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)

    def close(self) -> None:
        for proc in self.procs:
            self.kill(proc)
        for handle in self._files:
            handle.close()
