"""Imports every capability's store so that `metadata` knows all tables (for migrations and tests)."""

from __future__ import annotations

import importlib

from sqlalchemy import MetaData

from plimsoll.core.db import metadata

STORE_MODULES = (
    "plimsoll.core.projects",
    "plimsoll.core.audit",
    "plimsoll.core.auth.store",
    "plimsoll.core.outbox.store",
    "plimsoll.tracking.store",
)


def load_all_tables() -> MetaData:
    for module in STORE_MODULES:
        importlib.import_module(module)
    return metadata
