"""`plimsoll webhooks create|list|test|deliveries|delete`: webhook subscriptions through the SDK,
as Rich tables or `--json`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import JsonOption, UrlOption, console, format_time, open_client, print_json
from plimsoll.core.webhooks.entities import Delivery, Subscription

app = typer.Typer(
    help="Webhooks: subscribe a URL to events; list, test and delete subscriptions; see deliveries.",
    no_args_is_help=True,
)

STATE_STYLES = {"pending": "blue", "delivered": "green", "failed": "red"}
ERROR_WIDTH = 60

WebhookId = Annotated[str, typer.Argument(help="The webhook's id (32 hex digits, as `webhooks list` shows).")]


@app.command("create")
def create_webhook(
    name: Annotated[str, typer.Argument(help="A name for the subscription (unique).")],
    url: Annotated[
        str,
        typer.Argument(help="Where to send the events: an http(s):// URL, or smtp(s):// for --format email."),
    ],
    event: Annotated[
        list[str],
        typer.Option(
            "--event",
            "-e",
            help="An event type (run.ended), every type of a noun (run.*) or everything (*); repeat for several.",
            show_default=False,
        ),
    ],
    format: Annotated[
        str,
        typer.Option(
            "--format",
            help="The body's format: plimsoll, alertmanager, pagerduty, slack, or email (to an smtp:// URL).",
        ),
    ] = "plimsoll",
    json_output: JsonOption = False,
    url_option: UrlOption = None,
) -> None:
    """Subscribe URL to events. Prints the signing secret, which is never shown again."""
    with open_client(url_option) as client:
        created = client.create_webhook(name, url, event, format=format)
    if json_output:
        print_json(created.to_dict())
        return
    subscription = created.subscription
    console.print(f"Created webhook [bold]{escape(subscription.name)}[/] ({subscription.id}).")
    console.print(Text("Signing secret: ", style="bold"), Text(created.secret), sep="")
    console.print(
        "Store it now: it will not be shown again. Receivers verify X-Plimsoll-Signature with it "
        "(docs/webhooks.md)."
    )


@app.command("list")
def list_webhooks(json_output: JsonOption = False, url: UrlOption = None) -> None:
    """List webhook subscriptions, by name."""
    with open_client(url) as client:
        subscriptions = client.list_webhooks()
    if json_output:
        print_json({"webhooks": [item.to_dict() for item in subscriptions]})
        return
    if not subscriptions:
        console.print("No webhooks.")
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=32)  # the id is what one copies: never cut
    table.add_column("name", overflow="fold")
    table.add_column("url", overflow="fold")
    table.add_column("events", overflow="fold")
    table.add_column("format", no_wrap=True)
    table.add_column("active", no_wrap=True)
    table.add_column("created", no_wrap=True)
    for item in subscriptions:
        table.add_row(
            item.id,
            Text(item.name),
            Text(item.url),
            Text(", ".join(item.events)),
            item.format,
            "yes" if item.active else "no",
            f"{format_time(item.created_at)} by {item.created_by}",
        )
    console.print(table)


@app.command("test")
def test_webhook(webhook_id: WebhookId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Send a `webhook.tested` event to this subscription only (through the server's background)."""
    with open_client(url) as client:
        event_id = client.test_webhook(webhook_id.strip().lower())
    if json_output:
        print_json({"webhook_id": webhook_id.strip().lower(), "event_id": event_id})
        return
    console.print(
        f"Published test event {event_id}; `plimsoll webhooks deliveries {webhook_id.strip().lower()}` "
        "shows its delivery once the server's background has sent it."
    )


@app.command("deliveries")
def list_deliveries(
    webhook_id: WebhookId,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many deliveries.")] = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """A subscription's deliveries, newest first: state, attempts, last status and error."""
    with open_client(url) as client:
        deliveries = client.webhook_deliveries(webhook_id.strip().lower(), limit=limit)
    if json_output:
        print_json({"deliveries": [item.to_dict() for item in deliveries]})
        return
    if not deliveries:
        console.print("No deliveries.")
        return
    table = Table()
    table.add_column("delivery", no_wrap=True, min_width=32)
    table.add_column("event", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("status", justify="right")
    table.add_column("created", no_wrap=True)
    table.add_column("last error", overflow="ellipsis", max_width=ERROR_WIDTH)
    for item in deliveries:
        table.add_row(
            item.id,
            Text(f"{item.event_type} #{item.event_id}"),
            _state(item),
            str(item.attempts),
            "—" if item.last_status_code is None else str(item.last_status_code),
            format_time(item.created_at),
            Text(_first_line(item.last_error), style="red"),
        )
    console.print(table)


@app.command("delete")
def delete_webhook(webhook_id: WebhookId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Delete a subscription, its secret and its delivery history."""
    with open_client(url) as client:
        deleted: Subscription = client.delete_webhook(webhook_id.strip().lower())
    if json_output:
        print_json(deleted.to_dict())
        return
    console.print(f"Deleted webhook [bold]{escape(deleted.name)}[/] ({deleted.id}).")


def _state(delivery: Delivery) -> Text:
    return Text(delivery.state.value, style=STATE_STYLES.get(delivery.state.value, ""))


def _first_line(error: str | None) -> str:
    line = error.strip().splitlines()[0] if error and error.strip() else ""
    return line if len(line) <= ERROR_WIDTH else line[: ERROR_WIDTH - 1] + "…"
