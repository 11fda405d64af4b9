"""`plimsoll events tail|types`: follow what happens in a project, through the SDK."""

from __future__ import annotations

import time
from typing import Annotated

import orjson
import typer
from rich.markup import escape

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    ProjectOption,
    UrlOption,
    console,
    format_time,
    open_client,
    print_json,
)
from plimsoll.core.outbox.entities import Event

app = typer.Typer(help="Events: follow what happens in a project; the event catalog.", no_args_is_help=True)

POLL_S = 0.5


def _line(event: Event) -> str:
    payload = orjson.dumps(event.payload).decode()
    return (
        f"[dim]{format_time(event.created_at)}[/]  [bold]{escape(event.type)}[/]  "
        f"{escape(event.aggregate)}  [dim]by {escape(event.actor)}[/]  {escape(payload)}"
    )


@app.command("tail")
def tail(
    types: Annotated[
        list[str] | None,
        typer.Option("--type", "-t", help="Only events of this type (repeatable).", show_default=False),
    ] = None,
    after: Annotated[
        str | None, typer.Option("--after", help="Start after this token (a previous `next_page_token`).")
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep waiting for new events (Ctrl-C ends).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=1000, help="Events per request.")] = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Print a project's events in order, from the oldest kept (or after --after); with --follow,
    then every new one as it commits. With --json, one JSON document per line."""
    with open_client(url) as client:
        token = after
        try:
            while True:
                page = client.events(token, types=types, project=project, limit=limit)
                for event in page.events:
                    if json_output:
                        typer.echo(orjson.dumps(event.to_dict()).decode())  # one document a line
                    else:
                        console.print(_line(event), highlight=False, soft_wrap=True)
                # A page can be empty while more follows (a filter skipped a stretch of other
                # events, or a gap is being waited out): only a token that did not move is the end.
                moved = page.next_page_token != token
                token = page.next_page_token
                if not page.events and not moved:
                    if not follow:
                        break
                    time.sleep(POLL_S)
        except KeyboardInterrupt:
            pass
    if not json_output:
        console.print(f"[dim]next: plimsoll events tail --after {token}[/]")


@app.command("types")
def types_(json_output: JsonOption = False, url: UrlOption = None) -> None:
    """The event catalog: every type, what it means, and its payload's fields."""
    with open_client(url) as client:
        catalog = client.event_types()
    if json_output:
        print_json({"types": catalog})
        return
    for item in catalog:
        fields = ", ".join(item["payload"].get("properties", {}))
        console.print(
            f"[bold]{escape(item['name'])}[/]  {escape(item['description'])}  [dim]{escape(fields)}[/]"
        )
