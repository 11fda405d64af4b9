"""The composition root: one object owns the database, the blob store, the event bus and every
capability's service. The server, the embedded SDK, the CLI and the tests all build one of these."""

from __future__ import annotations

import threading

from plimsoll.core.auth.service import AuthService
from plimsoll.core.blobs import BlobStore
from plimsoll.core.config import Settings
from plimsoll.core.db import Database
from plimsoll.core.events import EventBus
from plimsoll.tracking.service import TrackingService


class Platform:
    def __init__(self, settings: Settings | None = None, **overrides: object) -> None:
        self.settings = (settings or Settings.from_env()).with_overrides(**overrides)
        self.db = Database(self.settings.resolved_store_url)
        self.blobs = BlobStore.from_url(self.settings.resolved_blobs_url)
        self.events = EventBus()
        self.auth = AuthService(self.db)
        self.tracking = TrackingService(self.db, self.blobs, self.events)
        self._started = False
        self._lock = threading.Lock()

    def startup(self) -> Platform:
        """Idempotent: migrate the database to head."""
        with self._lock:
            if not self._started:
                self.db.migrate()
                self._started = True
        return self

    def close(self) -> None:
        self.db.dispose()
