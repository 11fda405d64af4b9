"""`plimsoll users|tokens|roles`: administration of who may do what, run on the server's host.

These act on the store directly (as `plimsoll server` does), because the first admin has no token
to call the API with yet. Once an admin exists, the same operations are also HTTP routes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from plimsoll.cli._output import console, errors_to_exit, format_time, print_json
from plimsoll.core.auth.entities import NewToken
from plimsoll.core.config import Settings
from plimsoll.core.errors import InvalidParameter

if TYPE_CHECKING:
    from plimsoll.core.auth.service import AuthService

users_app = typer.Typer(help="Users of a server with authentication on.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (stored hashed; shown once).", no_args_is_help=True)
roles_app = typer.Typer(help="Roles per project: viewer, contributor, approver, admin.", no_args_is_help=True)

StoreOption = Annotated[str | None, typer.Option(help="SQLAlchemy URL of the server's database.")]
HomeOption = Annotated[Path | None, typer.Option(help="Folder of the embedded store.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ADMIN_ACTOR = "cli-admin"
DAY_MS = 86_400_000


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
    """Create the first user, a site admin, and print their token (then give them a password for
    the web UI: `plimsoll users set-password NAME`)."""
    with errors_to_exit():
        _show_secret(_auth(store, home).bootstrap_admin(name))
    console.print(f"[dim]For the web UI: plimsoll users set-password {name}[/]")


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


@users_app.command("list")
def list_users(store: StoreOption = None, home: HomeOption = None, json: JsonOption = False) -> None:
    """Every user: site admins, and who is disabled."""
    with errors_to_exit():
        users = _auth(store, home).list_users()
    if json:
        print_json({"users": [user.to_dict() for user in users]})
        return
    table = Table("name", "site admin", "created", "disabled")
    for user in users:
        table.add_row(
            user.name,
            "yes" if user.is_admin else "",
            format_time(user.created_at),
            format_time(user.disabled_at) if user.disabled_at else "",
        )
    console.print(table)


@users_app.command("set-password")
def set_password(
    name: str,
    temporary: Annotated[
        bool, typer.Option("--temporary", help="They must choose their own at their next sign-in.")
    ] = False,
    store: StoreOption = None,
    home: HomeOption = None,
) -> None:
    """Set NAME's web UI password, read from standard input (one line); their sessions end."""
    with errors_to_exit():
        auth = _auth(store, home)
        auth.get_user(name)  # before asking: an unknown user is said at once
        password = _read_password()
        auth.sign_in.set_password(name, password, actor=ADMIN_ACTOR, must_change=temporary)
    console.print(f"Set the password of [bold]{name}[/]; their sessions were ended.")


def _read_password() -> str:
    """One line from standard input: typed at a prompt that does not echo it (asked twice), or piped."""
    import getpass
    import sys

    if sys.stdin.isatty():
        first = getpass.getpass("New password: ")
        if getpass.getpass("Again: ") != first:
            raise InvalidParameter("password", "the two entries differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


@users_app.command("service-account")
def create_service_account(
    name: str,
    project: Annotated[str, typer.Option(help="The one project its tokens act in.")],
    role: Annotated[
        str, typer.Option(help="Its role there: viewer, contributor, approver or admin.")
    ] = "contributor",
    days: Annotated[float, typer.Option(help="Days until its token expires.", min=0.0001)] = 90.0,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    store: StoreOption = None,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Create a service account (for a CI job): it holds ROLE in PROJECT, cannot sign in to the
    web UI, and its token (printed once) is bound to that project and role."""
    from plimsoll.core.ids import now_ms

    with errors_to_exit():
        created = _auth(store, home).create_service_account(
            name, project=project, role=role, actor=ADMIN_ACTOR, label=label,
            expires_at=now_ms() + int(days * DAY_MS),
        )  # fmt: skip
    if json:
        print_json(created.to_dict())
        return
    _show_secret(created)


@users_app.command("sessions")
def list_sessions(
    name: str,
    end: Annotated[bool, typer.Option("--end", help="End every open session of NAME.")] = False,
    store: StoreOption = None,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """NAME's open web UI sessions (or, with --end, end them all)."""
    with errors_to_exit():
        auth = _auth(store, home)
        if end:
            ended = auth.sign_in.end_sessions_of(name, actor=ADMIN_ACTOR, reason="revoked")
            console.print(f"Ended {ended} session{'' if ended == 1 else 's'} of {name}.")
            return
        sessions = auth.sign_in.sessions(name)
    if json:
        print_json({"sessions": [session.to_dict() for session in sessions]})
        return
    table = Table("id", "method", "started", "last seen", "address")
    for session in sessions:
        table.add_row(
            session.id, session.method.value, format_time(session.created_at),
            format_time(session.last_seen_at), session.address or "",
        )  # fmt: skip
    console.print(table)


@users_app.command("disable")
def disable_user(name: str, store: StoreOption = None, home: HomeOption = None) -> None:
    """Disable NAME: every token of theirs is refused from now on (until enabled)."""
    with errors_to_exit():
        _auth(store, home).disable_user(name, actor=ADMIN_ACTOR)
    console.print(f"Disabled user [bold]{name}[/]: their tokens are refused.")


@users_app.command("enable")
def enable_user(name: str, store: StoreOption = None, home: HomeOption = None) -> None:
    """Enable NAME again: their tokens that are neither revoked nor expired work again."""
    with errors_to_exit():
        _auth(store, home).enable_user(name, actor=ADMIN_ACTOR)
    console.print(f"Enabled user [bold]{name}[/].")


@tokens_app.command("create")
def create_token(
    user: str,
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    days: Annotated[
        float | None, typer.Option(help="Days until it expires (default: the longest allowed).", min=0.0001)
    ] = None,
    project: Annotated[str | None, typer.Option(help="Bind it to this project (with --role).")] = None,
    role: Annotated[
        str | None, typer.Option(help="The most it may do in --project (default viewer).")
    ] = None,
    store: StoreOption = None,
    home: HomeOption = None,
) -> None:
    """Create an API token for USER and print it once."""
    from plimsoll.core.ids import now_ms

    expires_at = None if days is None else now_ms() + int(days * DAY_MS)
    with errors_to_exit():
        _show_secret(
            _auth(store, home).create_token(
                user, label=label, expires_at=expires_at, actor=ADMIN_ACTOR, project=project, role=role
            )
        )


@tokens_app.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Argument(help="Only this user's tokens.")] = None,
    store: StoreOption = None,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Every user's tokens (or USER's): id, owner, label, expiry and revocation, never the secret."""
    with errors_to_exit():
        tokens = _auth(store, home).list_tokens(user)
    if json:
        print_json({"tokens": [token.to_dict() for token in tokens]})
        return
    from plimsoll.core.ids import now_ms

    now = now_ms()
    table = Table("id", "user", "label", "bound to", "created", "expires", "last used", "state")
    for token in tokens:
        bound = f"{token.binding.role.value} in {token.binding.project}" if token.binding else ""
        table.add_row(
            token.id, token.user, token.label, bound, format_time(token.created_at),
            format_time(token.expires_at) if token.expires_at else "never",
            format_time(token.last_used_at) if token.last_used_at else "", token.state(now),
        )  # fmt: skip
    console.print(table)


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
