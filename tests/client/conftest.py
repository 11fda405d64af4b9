from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.client import Client
from plimsoll.core.config import Settings


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
