"""`plimsoll gc`: retention and garbage collection now (it also runs daily as a background job)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from plimsoll.cli._output import JsonOption, console, print_json


def gc(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would go; change nothing.")] = False,
    store: Annotated[str | None, typer.Option(help="SQLAlchemy URL of the metadata database.")] = None,
    blobs: Annotated[str | None, typer.Option(help="fsspec URL of the blob store.")] = None,
    home: Annotated[Path | None, typer.Option(help="Folder of the embedded store.")] = None,
    json_output: JsonOption = False,
) -> None:
    """Purge records deleted longer ago than the retention (PLIMSOLL_RETENTION_DAYS), prune finished
    jobs, and sweep blobs nothing refers to."""
    from plimsoll.core.config import Settings
    from plimsoll.maintenance import collect_garbage
    from plimsoll.platform import Platform

    settings = Settings.from_env().with_overrides(home=home, store_url=store, blobs_url=blobs)
    platform = Platform(settings).startup()
    try:
        with console.status("collecting garbage…"):
            report = collect_garbage(platform, dry_run=dry_run)
    finally:
        platform.close()
    if json_output:
        print_json(report.to_dict())
        return
    verb = "would purge" if dry_run else "purged"
    for capability, purged in report.purged.items():
        for what, value in purged.items():
            count = len(value) if isinstance(value, list) else value
            console.print(f"{capability}: {verb} {count} {what}")
            if dry_run and isinstance(value, list):
                for item in value:
                    console.print(f"  {item}", style="dim")
    if not dry_run:
        console.print(
            f"jobs: pruned {report.jobs} finished jobs older than {settings.job_retention_days:g} days"
        )
    console.print(
        f"blobs: {'would sweep' if dry_run else 'swept'} {len(report.blobs)}, kept {report.blobs_kept}"
    )
    if report.spools:
        console.print(
            f"spool files of puts that never finished: {'would remove' if dry_run else 'removed'} {report.spools}"
        )
    if dry_run:
        for digest in report.blobs:
            console.print(f"  {digest}", style="dim")
