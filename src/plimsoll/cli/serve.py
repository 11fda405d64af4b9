"""`plimsoll serve NAME`: run a model server replica of deployment NAME (uvicorn, one process).

Until the deployments service answers a deployment's routing, the routing comes from the
options: `--model NAME@ALIAS` (the version the alias holds, asked again every poll, so that an
alias move reaches every replica), or `--model NAME/VERSION`; `--canary REF --canary-weight W`,
`--shadow REF` and `--sticky-key FIELD` as a deployment would hold them. `routing_source` is the
one place that will ask `ServingService.routing(project, name)` instead.
"""

from __future__ import annotations

import hashlib
import logging
import logging.handlers
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

from plimsoll.cli._output import PROJECT_DEFAULT, UrlOption, errors_to_exit

if TYPE_CHECKING:
    from plimsoll.client.client import Client
    from plimsoll.serving.entities import Routing


def serve(
    name: Annotated[str, typer.Argument(help="The deployment this replica serves.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help="The stable version: NAME@ALIAS (followed) or NAME/VERSION.", show_default=False
        ),
    ] = None,
    canary: Annotated[
        str | None,
        typer.Option("--canary", help="A canary version: NAME/VERSION or NAME@ALIAS.", show_default=False),
    ] = None,
    canary_weight: Annotated[
        float, typer.Option("--canary-weight", help="Percent of requests the canary answers.")
    ] = 0.0,
    shadow: Annotated[
        str | None,
        typer.Option(
            "--shadow", help="A version answering a copy of each request, logged only.", show_default=False
        ),
    ] = None,
    sticky_key: Annotated[
        str | None,
        typer.Option(
            "--sticky-key",
            help="A request field whose value keeps a caller on one version.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows a request may carry.")] = 100_000,
    max_body_mb: Annotated[
        int, typer.Option("--max-body-mb", help="Megabytes a request body may carry.")
    ] = 64,
    poll_interval: Annotated[
        float, typer.Option("--poll-interval", help="Seconds between routing checks.")
    ] = 1.0,
    report_interval: Annotated[
        float, typer.Option("--report-interval", help="Seconds between traffic reports to the deployment.")
    ] = 10.0,
    url: UrlOption = None,
    project: Annotated[
        str, typer.Option("--project", help="Project the deployment lives in.")
    ] = PROJECT_DEFAULT,
) -> None:
    """Serve deployment NAME: MLflow's /invocations, the Open Inference Protocol v2, Arrow IPC;
    health, readiness, /metrics and /feedback. Every prediction is logged to monitoring."""
    import uvicorn

    from plimsoll.client.client import Client
    from plimsoll.serving.app import Options, build_app
    from plimsoll.serving.protocol import Limits

    with errors_to_exit():
        client = Client(url)
        source = routing_source(
            client, project, name, model=model, canary=canary, canary_weight=canary_weight, shadow=shadow,
            sticky_key=sticky_key,
        )  # fmt: skip
        routing = source()  # a bad reference stops here, with its message
        options = Options(
            limits=Limits(max_rows=max_rows, max_body_bytes=max_body_mb * 1024 * 1024),
            poll_interval=poll_interval,
            report_interval=report_interval,
        )
        app = build_app(
            source,
            loader(client, project, routing.model),
            client.monitoring,
            options=options,
            report=None if model is not None else reporter(client, project, name, options.replica),
            trained_in=trained_in(client, project, routing.model),
        )
    lines = _structured_access_log()
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on")
    finally:
        client.close()
        _stop_lines(lines)


def routing_source(
    client: Client,
    project: str,
    name: str,
    *,
    model: str | None,
    canary: str | None = None,
    canary_weight: float = 0.0,
    shadow: str | None = None,
    sticky_key: str | None = None,
) -> Callable[[], Routing]:
    """Where a replica asks its routing: deployment NAME's (`plimsoll deploy`), or, with
    `--model`, the options' static routing (aliases resolved on every call; the revision a digest
    of what they hold, so that it moves when they do)."""
    from plimsoll.core.errors import InvalidParameter
    from plimsoll.model_registry.entities import parse_model_ref
    from plimsoll.serving.entities import Routing

    if model is None:
        if canary is not None or shadow is not None or sticky_key is not None:
            raise InvalidParameter(
                "--model", "is needed with --canary, --shadow or --sticky-key (a deployment has its own)"
            )
        return lambda: client.deployments.routing(name, project=project)
    model_name = parse_model_ref("--model", model)[0]
    for option, ref in (("--canary", canary), ("--shadow", shadow)):
        if ref is not None and parse_model_ref(option, ref)[0] != model_name:
            raise InvalidParameter(option, f"must be a version of {model_name}, as --model; got {ref!r}")

    def version(ref: str | None) -> int | None:
        return None if ref is None else client.registry.get(ref, project=project).version

    def source() -> Routing:
        held = (
            version(model),
            version(canary),
            canary_weight if canary else 0.0,
            version(shadow),
            sticky_key,
        )
        digest = hashlib.blake2b(repr(held).encode(), digest_size=6).digest()
        return Routing(
            project,
            name,
            model_name,
            held[0],
            held[1],
            held[2],
            held[3],
            sticky_key,
            int.from_bytes(digest, "big"),
        )

    return source


def loader(client: Client, project: str, model: str) -> Callable[[int], Any]:
    """A version of `model` loaded through the registry: files verified against their digests,
    safe formats only (a pickle once trusted)."""
    return lambda version: client.registry.load(f"{model}/{version}", project=project)


def _structured_access_log() -> logging.handlers.QueueListener:
    """Access lines (JSON, one a request) and the server's own messages to stderr, written by a
    thread of their own: a request only appends its line to a queue (no write on the event
    loop). The listener answered is stopped (its lines written) at exit, or by its caller."""
    import atexit
    import queue

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    lines: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    listener = logging.handlers.QueueListener(lines, handler)
    listener.start()
    atexit.register(_stop_lines, listener)
    serving = logging.getLogger("plimsoll.serving")
    serving.addHandler(logging.handlers.QueueHandler(lines))
    serving.setLevel(logging.INFO)
    return listener


def _stop_lines(listener: logging.handlers.QueueListener) -> None:
    """Write the lines still queued and stop the listener's thread (once)."""
    if listener._thread is not None:
        listener.stop()


def trained_in(client: Client, project: str, model: str) -> Callable[[int], Any]:
    """A version's training environment: what its run captured (`plimsoll/environment.json`);
    None when the run captured none (`capture=False`) or the version has no run."""
    import tempfile
    from pathlib import Path

    from plimsoll.core.errors import NotFound
    from plimsoll.serving.parity import Environment
    from plimsoll.tracking.entities import ENVIRONMENT_ARTIFACT

    def read(version: int) -> Environment | None:
        found = client.registry.get(f"{model}/{version}", project=project)
        if found.run_id is None:
            return None
        with tempfile.TemporaryDirectory(prefix="plimsoll-environment-") as folder:
            try:
                path = client.download_artifact(
                    found.run_id, ENVIRONMENT_ARTIFACT, Path(folder) / "environment.json"
                )
            except NotFound:
                return None
            return Environment.from_document(path.read_bytes())

    return read


def reporter(client: Client, project: str, name: str, replica: str) -> Callable[[list[Any]], None]:
    """Where a replica of a deployment sends its traffic counts (the rollout's analysis reads them)."""

    def report(stats: list[Any]) -> None:
        client.deployments.report_traffic(name, stats, replica=replica, project=project)

    return report
