"""What every part of the tracking service shares: its parts, one way to write, and the checks of
ids and statuses that the SDK, the routes and the CLI also use."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

from plimsoll.core.blobs import BlobStore
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.config import Settings
from plimsoll.core.db import Connection, Database
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects.service import ProjectService
from plimsoll.core.validation import check_id
from plimsoll.tracking import store
from plimsoll.tracking.entities import Run


def check_run_id(field: str, value: Any) -> str:
    return check_id(field, value)


class ServiceBase:
    settings: Settings
    db: Database
    blobs: BlobStore
    events: Outbox
    projects: ProjectService

    def __init__(self, parts: Parts) -> None:
        self.settings = parts.settings
        self.db = parts.db
        self.blobs = parts.blobs
        self.events = parts.events
        self.projects = parts.projects

    def _change(self, actor: str) -> AbstractContextManager[Change]:
        """One write transaction; audit entries recorded in it, events published after it commits."""
        return changing(self.db, self.events, actor)

    @staticmethod
    def _runs(conn: Connection, run_ids: list[str]) -> list[Run]:
        by_id = {fields[0]: Run(*fields) for fields in store.run_details(conn, run_ids)}
        return [by_id[run_id] for run_id in run_ids if run_id in by_id]
