"""The `plimsoll` command: nouns are groups, verbs are commands (`plimsoll runs list`)."""

from __future__ import annotations

import typer

from plimsoll.cli import experiments as _experiments
from plimsoll.cli import runs as _runs
from plimsoll.cli.demo import demo
from plimsoll.cli.server import server
from plimsoll.cli.users import roles_app, tokens_app, users_app

app = typer.Typer(
    name="plimsoll",
    help="Plimsoll: a self-hosted MLOps platform.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command("server")(server)
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_runs.app, name="runs")
app.command("demo")(demo)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(roles_app, name="roles")


@app.callback()
def _root() -> None:
    """Plimsoll: a self-hosted MLOps platform."""


def main() -> None:
    app()
