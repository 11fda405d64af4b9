"""In-process event bus. Services publish after their transaction commits; subscribers (monitors,
pipelines, webhooks in later capabilities) react. A failing subscriber never fails the publisher."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plimsoll.core.ids import now_ms

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    topic: str
    payload: dict[str, Any]
    actor: str
    ts: int = field(default_factory=now_ms)


Handler = Callable[[Event], None]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe(self, topic: str, handler: Handler) -> None:
        """`topic` is exact, or a prefix ending in `*` (`"run.*"`)."""
        with self._lock:
            self._handlers[topic].append(handler)

    def publish(self, event: Event) -> None:
        with self._lock:
            handlers = [
                handler
                for topic, topic_handlers in self._handlers.items()
                if topic == event.topic or (topic.endswith("*") and event.topic.startswith(topic[:-1]))
                for handler in topic_handlers
            ]
        for handler in handlers:
            try:
                handler(event)
            except Exception:
                log.exception("event handler for %s failed", event.topic)
