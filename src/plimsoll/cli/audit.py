"""`plimsoll audit verify|adopt|rotate-key`: the audit log's proof, checked on the server's host.

These read the store and the audit key file directly (as `plimsoll gc` and `plimsoll users` do):
verifying needs the key, which never leaves the server's host. Run them with the same `--store`,
`--home` and `PLIMSOLL_AUDIT_KEY_FILE` as `plimsoll server`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from plimsoll.cli._output import (
    EXIT_NOT_FOUND,
    EXIT_VERIFICATION_FAILED,
    JsonOption,
    console,
    err_console,
    errors_to_exit,
    fail,
    print_json,
)

if TYPE_CHECKING:
    from plimsoll.platform import Platform

app = typer.Typer(help="The audit log: verify its proof, adopt it, rotate its key.", no_args_is_help=True)

StoreOption = Annotated[str | None, typer.Option(help="SQLAlchemy URL of the server's database.")]
HomeOption = Annotated[Path | None, typer.Option(help="Folder of the embedded store.")]
KeyFileOption = Annotated[
    Path | None,
    typer.Option(
        "--key-file", help="The audit key file (default: $PLIMSOLL_AUDIT_KEY_FILE, else HOME/audit.key)."
    ),
]
ADMIN_ACTOR = "cli-admin"


def _platform(store: str | None, home: Path | None, key_file: Path | None) -> Platform:
    from plimsoll.core.config import Settings
    from plimsoll.platform import Platform

    settings = Settings.from_env().with_overrides(store_url=store, home=home, audit_key_file=key_file)
    return Platform(settings).startup()


@app.command("verify")
def verify(
    store: StoreOption = None,
    home: HomeOption = None,
    key_file: KeyFileOption = None,
    json_output: JsonOption = False,
) -> None:
    """Check every row of the audit log against its chain, its signatures and the signed
    checkpoints. Exit code 8, naming the first bad row, if anything was changed, inserted or
    deleted where the proof covers it. Changes nothing."""
    with errors_to_exit():
        platform = _platform(store, home, key_file)
        try:
            with Progress(
                TextColumn("verifying the audit log"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
                disable=json_output,
            ) as bar:
                task = bar.add_task("rows", total=None)
                outcome = platform.audit.verify(
                    progress=lambda done, total: bar.update(task, completed=done, total=total)
                )
        finally:
            platform.close()
    if json_output:
        print_json(outcome.to_dict())
    elif outcome.ok:
        anchor = (
            f"; the newest checkpoint covers rows up to {outcome.anchor_seq}" if outcome.anchor_seq else ""
        )
        console.print(
            f"The audit log holds: {outcome.rows_checked} rows and {outcome.checkpoints_checked} "
            f"checkpoints verified{anchor}."
        )
        if outcome.unchecked_checkpoints:
            console.print(
                f"{outcome.unchecked_checkpoints} older checkpoints are signed with keys no longer in the "
                "key file and were not checked (newer ones cover their rows).",
                style="dim",
            )
    if not outcome.ok:
        if json_output:
            raise typer.Exit(EXIT_VERIFICATION_FAILED)
        fail(f"the audit log does not verify: {outcome.problem}", EXIT_VERIFICATION_FAILED)


@app.command("adopt")
def adopt(
    reason: Annotated[str, typer.Option(help="Why: recorded in the audit log with the adoption.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    store: StoreOption = None,
    home: HomeOption = None,
    key_file: KeyFileOption = None,
    json_output: JsonOption = False,
) -> None:
    """Vouch for the log as it stands with the current key: after the key was lost, or for a log
    from before signing that was not adopted when the key was made. Refused if the chain itself
    is broken. Recorded in the log."""
    with errors_to_exit():
        platform = _platform(store, home, key_file)
        try:
            if not yes:
                typer.confirm(
                    "Everything in the audit log now will be vouched for by the current key, "
                    "including anything changed since the last verification. Go on?",
                    abort=True,
                )
            outcome = platform.audit.adopt(actor=ADMIN_ACTOR, reason=reason)
        finally:
            platform.close()
    if json_output:
        print_json(outcome.to_dict())
        return
    console.print(
        f"Adopted the audit log ({outcome.rows_checked} rows) with key {platform.audit.keyring.signing.id}."
    )


@app.command("rotate-key")
def rotate_key(
    home: HomeOption = None,
    key_file: KeyFileOption = None,
    json_output: JsonOption = False,
) -> None:
    """Put a new signing key first in the key file; the old ones stay, to verify what they signed.
    Restart every server and worker that shares the file so that they sign with the new key."""
    from plimsoll.core.audit.keys import rotate
    from plimsoll.core.config import Settings

    settings = Settings.from_env().with_overrides(home=home, audit_key_file=key_file)
    path = settings.resolved_audit_key_file
    if not path.exists():
        fail(f"no audit key file at {path}; a server makes one when it first starts", EXIT_NOT_FOUND)
    with errors_to_exit():
        new = rotate(path)
    if json_output:
        print_json({"key_file": str(path), "signing_key": new.id})
        return
    console.print(
        Text(f"New signing key {new.id} in {path}; the earlier keys still verify what they signed.")
    )
    console.print("Restart every server and worker that uses this file, and copy it to each host that does.")
