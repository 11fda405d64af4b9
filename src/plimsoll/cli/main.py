"""The `plimsoll` command: nouns are groups, verbs are commands (`plimsoll runs list`).

Each capability's descriptor names its command groups (and the few top-level verbs, such as
`plimsoll score`) by dotted path; they are imported here,
in the CLI process only (the server never imports the CLI)."""

from __future__ import annotations

from collections.abc import Sequence

import typer

from plimsoll.capabilities import ALL
from plimsoll.cli.demo import demo
from plimsoll.cli.gc import gc
from plimsoll.cli.server import server
from plimsoll.cli.sync import sync
from plimsoll.cli.worker import worker
from plimsoll.core.capability import Capability, CliCommand, load

HELP = "Plimsoll: a self-hosted MLOps platform."


def build_cli(capabilities: Sequence[Capability] = ALL) -> typer.Typer:
    app = typer.Typer(
        name="plimsoll", help=HELP, no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False
    )
    app.callback(help=HELP)(_root)
    app.command("server")(server)
    app.command("worker")(worker)
    app.command("gc")(gc)
    app.command("demo")(demo)
    app.command("sync")(sync)
    for capability in capabilities:
        for entry in capability.cli:
            if isinstance(entry, CliCommand):
                app.command(entry.name)(load(entry.command))
            else:
                app.add_typer(load(entry.app), name=entry.name)
    return app


def _root() -> None:
    """Plimsoll: a self-hosted MLOps platform."""


app = build_cli()


def main() -> None:
    app()
