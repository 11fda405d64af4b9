"""The `plimsoll` command: nouns are groups, verbs are commands (`plimsoll runs list`)."""

from __future__ import annotations

import typer

from plimsoll.cli.server import server

app = typer.Typer(
    name="plimsoll",
    help="Plimsoll: a self-hosted MLOps platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("server")(server)


@app.callback()
def _root() -> None:
    """Plimsoll: a self-hosted MLOps platform."""


def main() -> None:
    app()
