"""The lineage page: `/lineage?node=ID` draws where a node came from and what was made from it,
a few steps each way, as a graph to pan, zoom and click (static/lineage.js, cytoscape.js; the
data is a JSON island). Without a node it offers the project's datasets to start from."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import parse_int_text
from plimsoll.lineage.entities import MAX_DEPTH, Graph, Node, parse_node
from plimsoll.server.ui import views
from plimsoll.server.ui.datasets import dataset_path
from plimsoll.server.ui.features import feature_path
from plimsoll.server.ui.models import version_path
from plimsoll.server.ui.pages import PageRoute, render

DEFAULT_DEPTH = 3
NODES_SHOWN = 500  # each way; past it the page says the graph was cut and by how much

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/lineage", response_class=HTMLResponse)
def lineage_page(
    request: Request, node: str = "", depth: str = "", project: str = DEFAULT_PROJECT
) -> HTMLResponse:
    platform = request.app.state.platform
    context: dict[str, Any] = {"active": "lineage", "project": project, "node": node, "graph": None}
    if not node:
        context["starts"] = [
            f"dataset:{d.latest.ref}" for d in platform.service("data").list_datasets(project=project)
        ]
        return render(request, "lineage.html", context)
    steps = DEFAULT_DEPTH if not depth else parse_int_text("depth", depth, minimum=1, maximum=MAX_DEPTH)
    lineage = platform.service("lineage")
    upstream: Graph = lineage.upstream(project, node, steps, NODES_SHOWN)
    downstream: Graph = lineage.downstream(project, node, steps, NODES_SHOWN)
    start = upstream.nodes[0].id
    nodes = {n.id: n for n in [*upstream.nodes, *downstream.nodes]}
    edges = {(e.source, e.target, e.role): e for e in [*upstream.edges, *downstream.edges]}
    context.update(
        node=start,
        depth=steps,
        depths=[
            (d, views.url("/lineage", project=project, node=start, depth=str(d))) for d in (1, 2, 3, 5, 10)
        ],
        cut=[
            (name, g.total) for name, g in (("upstream", upstream), ("downstream", downstream)) if g.truncated
        ],
        graph={
            "start": start,
            "nodes": [_node(project, n, start) for n in nodes.values()],
            "edges": [
                {"source": e.source, "target": e.target, "role": e.role, "context": e.context}
                for e in edges.values()
            ],
        },
        counts={"nodes": len(nodes), "edges": len(edges)},
    )
    return render(request, "lineage.html", context)


def _node(project: str, node: Node, start: str) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.kind,
        "label": node.label or node.key,
        # A deleted version has no page any more: its lineage is what is left to open.
        "href": views.url("/lineage", project=project, node=node.id)
        if node.tombstoned_at is not None
        else _href(project, parse_node("node", node.id)),
        "start": node.id == start,
        "tombstoned": node.tombstoned_at is not None,
    }


def _href(project: str, ref: Any) -> str:
    """Where clicking a node goes: its own page where it has one, else its lineage."""
    if ref.kind == "dataset":
        name, _, version = ref.key.rpartition("@")
        return views.url(dataset_path(name), project=project, version=version)
    if ref.kind == "feature":
        name, _, version = ref.key.rpartition("@")
        return views.url(feature_path(name), project=project, version=version)
    if ref.kind == "model":
        name, _, version = ref.key.rpartition("/")
        if version.isdigit():
            return views.url(version_path(name, int(version)), project=project)
    if ref.kind == "run":
        return f"/runs/{quote(ref.key, safe='')}"
    return views.url("/lineage", project=project, node=ref.id)
