"""Fixtures for dataset tests: the SDK embedded and over HTTP on both databases, a private hash
cache, and real files to register."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.client import Client
from plimsoll.core.config import Settings


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test hashes with a cache of its own (under $XDG_CACHE_HOME), never the user's."""
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder))
    return folder / "plimsoll" / "hashes.sqlite"


@pytest.fixture(params=["embedded", "http"])
def sdk(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Client]:
    """The same SDK calls in-process and over HTTP, each on SQLite and PostgreSQL."""
    if request.param == "embedded":
        client = Client(database_url, settings=Settings(home=tmp_path / "home"), flush_interval=0.05)
    else:
        server = request.getfixturevalue("live_server")
        client = Client(server.url, flush_interval=0.05)
    try:
        yield client
    finally:
        client.close()
