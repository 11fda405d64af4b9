"""`plimsoll worker`: run background jobs in a process of its own, beside (or instead of) the
servers' own workers. Stops gracefully on Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer


def worker(
    store: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the metadata database.")] = None,
    blobs: Annotated[str | None, typer.Option(help="fsspec URL of the blob store.")] = None,
    home: Annotated[Path | None, typer.Option(help="Folder of the embedded store.")] = None,
    threads: Annotated[int, typer.Option(min=1, max=64, help="Jobs run at once.")] = 4,
) -> None:
    """Run background jobs (monitors, deliveries, retention) until stopped."""
    from rich.console import Console

    from plimsoll.core.config import Settings
    from plimsoll.core.db import redacted_url
    from plimsoll.platform import Platform

    settings = Settings.from_env().with_overrides(home=home, store_url=store, blobs_url=blobs)
    platform = Platform(settings).startup()
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    background = platform.start_background(threads=threads)
    console = Console(stderr=True)
    kinds = ", ".join(platform.jobs.registry.kinds()) or "none"
    console.print(
        f"[bold]Plimsoll worker[/] on {redacted_url(settings.resolved_store_url)}; job kinds: {kinds}"
    )
    try:
        stopped.wait()
    finally:
        console.print("stopping: running jobs get 30 s to finish, the rest go back to the queue")
        background.stop(timeout_s=30)
        platform.close()
