"""`plimsoll server`: run the HTTP server (API, MLflow-compatible API, web UI)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Annotated

import typer


def server(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8765,
    store: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the metadata database.")] = None,
    blobs: Annotated[str | None, typer.Option(help="fsspec URL of the blob store.")] = None,
    home: Annotated[Path | None, typer.Option(help="Folder of the embedded store.")] = None,
    auth: Annotated[bool | None, typer.Option("--auth/--no-auth", help="Require API tokens.")] = None,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            help="Host names clients reach the server by, comma-separated ('*.example.com'; '*': any); "
            "the loopback names are always allowed. Needed with a --host other than loopback."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    background: Annotated[
        bool,
        typer.Option(
            "--background/--no-background",
            help="Run background jobs in this process too (off: run `plimsoll worker` processes).",
        ),
    ] = True,
) -> None:
    """Run the Plimsoll server (defaults: SQLite and blobs under ./.plimsoll, http://127.0.0.1:8765)."""
    import uvicorn
    from rich.console import Console

    from plimsoll.cli._output import EXIT_USAGE, errors_to_exit, fail
    from plimsoll.core.config import Settings, host_list
    from plimsoll.platform import Platform
    from plimsoll.server.app import create_app
    from plimsoll.server.hosts import AllowedHosts, is_loopback

    with errors_to_exit():
        settings = Settings.from_env().with_overrides(
            home=home, store_url=store, blobs_url=blobs, auth=auth, allowed_hosts=host_list(allowed_hosts)
        )
        AllowedHosts.parse(settings.allowed_hosts)  # a bad name stops here, before anything starts
    if settings.allowed_hosts is None and not is_loopback(host):
        fail(
            f"--host {host} listens beyond this machine: name the host names clients use to reach "
            "it with --allowed-hosts (or PLIMSOLL_ALLOWED_HOSTS), e.g. --allowed-hosts "
            "plimsoll.example.com, or '*' to answer to any name (this guards against DNS rebinding, "
            "see docs/security.md)",
            EXIT_USAGE,
        )
    with errors_to_exit():  # a bad PLIMSOLL_OIDC_ROLES, say, is a message, not a traceback
        platform = Platform(settings).startup()
    console = Console(stderr=True)
    console.print(f"[bold]Plimsoll[/] on http://{host}:{port}  store={_safe(settings.resolved_store_url)}")
    console.print(f"  blobs={settings.resolved_blobs_url}  auth={'on' if settings.auth else 'off'}")
    if settings.auth and platform.auth.needs_bootstrap():
        console.print(
            "[yellow]Authentication is on and there are no users yet: make the first admin with "
            "`plimsoll users bootstrap NAME`, then `plimsoll users set-password NAME` to sign in.[/]"
        )
    if workers > 1:
        console.print(
            "[yellow]--workers > 1: run several `plimsoll server` replicas behind a balancer instead[/]"
        )
    app = create_app(platform, background=background)
    # What start-up built (modules, routes, tables, caches) lives as long as the process: moved out
    # of the collector's reach, so that its full collections, which a large request body can
    # trigger, walk only what requests allocate.
    gc.freeze()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )


def _safe(url: str) -> str:
    from plimsoll.core.db import redacted_url

    return redacted_url(url)
