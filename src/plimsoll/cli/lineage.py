"""`plimsoll lineage upstream|downstream|impact|link`: the lineage graph through the SDK, as a
Rich tree or table, or `--json` (the API's document). A run may be named by its short id."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from plimsoll.cli._output import PROJECT_DEFAULT, JsonOption, UrlOption, console, open_client, print_json
from plimsoll.lineage.entities import (
    DEFAULT_NODE_LIMIT,
    EDGE_CONTEXTS,
    EDGE_ROLES,
    MAX_DEPTH,
    MAX_NODE_LIMIT,
    Direction,
    Graph,
    Node,
)

app = typer.Typer(
    help="Lineage: what a node was made from, what was made from it, what a change affects.",
    no_args_is_help=True,
)

NodeArgument = Annotated[
    str,
    typer.Argument(
        help="A node id: dataset:NAME@VERSION, run:ID (or its short id), model:NAME/VERSION, deployment:NAME.",
        show_default=False,
    ),
]
DepthOption = Annotated[
    int | None,
    typer.Option(
        "--depth", min=1, max=MAX_DEPTH, help="At most this many steps (default: all).", show_default=False
    ),
]
ProjectOption = Annotated[str, typer.Option("--project", help="The project whose graph to read.")]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=MAX_NODE_LIMIT, help="At most this many nodes in the answer.")
]


@app.command("upstream")
def upstream(
    node: NodeArgument,
    depth: DepthOption = None,
    limit: LimitOption = DEFAULT_NODE_LIMIT,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """What NODE was made from."""
    _walk("upstream", node, depth, limit, json_output, project, url)


@app.command("downstream")
def downstream(
    node: NodeArgument,
    depth: DepthOption = None,
    limit: LimitOption = DEFAULT_NODE_LIMIT,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """What was made from NODE."""
    _walk("downstream", node, depth, limit, json_output, project, url)


@app.command("impact")
def impact(
    node: NodeArgument,
    limit: LimitOption = DEFAULT_NODE_LIMIT,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """The runs, model versions and deployments a change to NODE affects."""
    with open_client(url) as client:
        found = client.lineage.impact(node, limit=limit, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    if not found.impacted:
        console.print(f"Nothing downstream of {escape(found.node)} is a run, model version or deployment.")
        return
    table = Table(title=f"Impact of {escape(found.node)}")
    table.add_column("kind", no_wrap=True)
    table.add_column("id", overflow="fold")
    table.add_column("label", overflow="fold")
    table.add_column("deleted", no_wrap=True)
    for item in found.impacted:
        table.add_row(item.kind, escape(item.id), escape(item.label), "yes" if item.tombstoned else "")
    console.print(table)
    if found.truncated:
        counts = ", ".join(f"{count:,} {kind}" for kind, count in found.counts.items())
        console.print(
            f"[dim]The first {len(found.impacted):,} of {found.total:,} ({counts}); --limit shows more.[/]"
        )


@app.command("link")
def link(
    source: Annotated[str, typer.Argument(help="The node data flows from.", show_default=False)],
    target: Annotated[str, typer.Argument(help="The node data flows to.", show_default=False)],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(EDGE_ROLES)}.", show_default=False)],
    context: Annotated[
        str | None,
        typer.Option("--context", help=f"For `used`: {', '.join(EDGE_CONTEXTS)}.", show_default=False),
    ] = None,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """Link SOURCE -> TARGET (nodes are created if new; linking again changes nothing)."""
    with open_client(url) as client:
        edge = client.lineage.link(source, target, role, context, project=project)
    if json_output:
        print_json(edge.to_dict())
        return
    how = edge.role if edge.context is None else f"{edge.role} ({edge.context})"
    console.print(f"Linked {escape(edge.source)} -> {escape(edge.target)}: {escape(how)}.")


def _walk(
    direction: Direction,
    node: str,
    depth: int | None,
    limit: int,
    json_output: bool,
    project: str,
    url: str | None,
) -> None:
    with open_client(url) as client:
        walk = client.lineage.upstream if direction == "upstream" else client.lineage.downstream
        graph = walk(node, depth=depth, limit=limit, project=project)
    if json_output:
        print_json(graph.to_dict())
        return
    console.print(_tree(graph, downstream=direction == "downstream"))
    if graph.truncated:
        console.print(
            f"[dim]{len(graph.nodes):,} of {graph.total:,} nodes; --limit or --depth for others.[/]"
        )


def _tree(graph: Graph, *, downstream: bool) -> Tree:
    """The walk as a tree from its start; a node reached again (the graph is no tree) is shown
    once in full and after that by its id, marked, so a cycle ends."""
    by_id = {node.id: node for node in graph.nodes}
    next_of: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.edges:
        here, there = (edge.source, edge.target) if downstream else (edge.target, edge.source)
        how = edge.role if edge.context is None else f"{edge.role}, {edge.context}"
        next_of.setdefault(here, []).append((there, how))
    start = graph.nodes[0]
    root = Tree(_label(start))
    shown = {start.id}
    pending = [(root, start.id)]
    while pending:
        branch, node_id = pending.pop(0)
        for there, how in sorted(next_of.get(node_id, [])):
            if there in shown:
                branch.add(f"[dim]{escape(there)} ({escape(how)}; shown above)[/]")
                continue
            shown.add(there)
            pending.append((branch.add(f"{_label(by_id[there])} [dim]({escape(how)})[/]"), there))
    return root


def _label(node: Node) -> str:
    text = f"[bold]{escape(node.id)}[/]"
    if node.label != node.key:
        text += f" {escape(node.label)}"
    return text + (" [red](deleted)[/]" if node.tombstoned else "")
