"""Fixtures for the web UI tests: one seeded SQLite platform behind a real server, and Debian's
Chromium driven by Playwright.

The data is seeded once per module through the TrackingService (the UI is read-only, so tests can
share it); each test gets a fresh browser context and page. Browser console errors and uncaught page
errors fail the test, unless it says it expects an HTTP error page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import Console, Seeded, browser_tab, seed

from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _fail_or_skip(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: browser tests may not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def seeded_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, Seeded]]:
    """A real server on 127.0.0.1 over a seeded SQLite platform (the backend is not the point here)."""
    platform = Platform(home=tmp_path_factory.mktemp("ui") / ".plimsoll").startup()
    seeded = seed(platform)
    server = LiveServer(platform)
    try:
        yield server, seeded
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(seeded_server: tuple[Any, Seeded]) -> str:
    return str(seeded_server[0].url)


@pytest.fixture(scope="module")
def seeded(seeded_server: tuple[Any, Seeded]) -> Seeded:
    return seeded_server[1]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _fail_or_skip(f"{CHROMIUM} is missing (Debian package 'chromium'; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def console() -> Console:
    return Console()


@pytest.fixture
def page(browser: Any, base_url: str, console: Console) -> Iterator[Any]:
    with browser_tab(browser, base_url, console) as tab:
        yield tab
