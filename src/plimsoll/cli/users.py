"""`plimsoll users|tokens|roles`: administration of who may do what, run on the server's host.

These act on the store directly (as `plimsoll server` does), because the first admin has no token
to call the API with yet. Once an admin exists, the same operations are also HTTP routes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plimsoll.cli._output import console, errors_to_exit
from plimsoll.core.auth.entities import NewToken
from plimsoll.core.auth.service import AuthService
from plimsoll.core.config import Settings

users_app = typer.Typer(help="Users of a server with authentication on.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
roles_app = typer.Typer(help="Roles per project: viewer, contributor, approver, admin.", no_args_is_help=True)

StoreOption = Annotated[str | None, typer.Option(help="SQLAlchemy URL of the server's database.")]
HomeOption = Annotated[Path | None, typer.Option(help="Folder of the embedded store.")]
ADMIN_ACTOR = "cli-admin"


def _auth(store: str | None, home: Path | None) -> AuthService:
    from plimsoll.platform import Platform

    platform = Platform(Settings.from_env().with_overrides(store_url=store, home=home)).startup()
    return platform.auth


def _show_secret(created: NewToken) -> None:
    console.print(f"Token [bold]{created.token.id}[/] for {created.token.user}:")
    console.print(f"  {created.secret}")
    console.print("[dim]Shown once: store it now (set PLIMSOLL_TOKEN to use it).[/]")


@users_app.command("bootstrap")
def bootstrap(name: str, store: StoreOption = None, home: HomeOption = None) -> None:
    """Create the first user, a site admin, and print their token."""
    with errors_to_exit():
        _show_secret(_auth(store, home).bootstrap_admin(name))


@users_app.command("create")
def create_user(
    name: str,
    admin: Annotated[bool, typer.Option("--admin", help="A site admin (admin in every project).")] = False,
    store: StoreOption = None,
    home: HomeOption = None,
) -> None:
    """Create a user (no token yet: `plimsoll tokens create NAME`)."""
    with errors_to_exit():
        user = _auth(store, home).create_user(name, is_admin=admin, actor=ADMIN_ACTOR)
    console.print(f"Created user [bold]{user.name}[/]{' (site admin)' if user.is_admin else ''}.")


@tokens_app.command("create")
def create_token(
    user: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    store: StoreOption = None,
    home: HomeOption = None,
) -> None:
    """Create an API token for USER and print it once."""
    with errors_to_exit():
        _show_secret(_auth(store, home).create_token(user, label=label, actor=ADMIN_ACTOR))


@tokens_app.command("revoke")
def revoke_token(token_id: str, store: StoreOption = None, home: HomeOption = None) -> None:
    """Revoke a token for good."""
    with errors_to_exit():
        _auth(store, home).revoke_token(token_id, actor=ADMIN_ACTOR)
    console.print(f"Revoked token {token_id}.")


@roles_app.command("grant")
def grant(project: str, user: str, role: str, store: StoreOption = None, home: HomeOption = None) -> None:
    """Give USER exactly ROLE in PROJECT."""
    with errors_to_exit():
        granted = _auth(store, home).grant(project, user, role, actor=ADMIN_ACTOR)
    console.print(f"{user} is now {granted.value} in {project}.")
