"""LineageService on SQLite and PostgreSQL: recording is idempotent, walks follow depth and end on
cycles, impact goes through derived data, tombstones stay in the graph, runs belong to their
experiment's project, and aliases resolve through their kind's resolver."""

from __future__ import annotations

import pytest

from plimsoll.core import audit
from plimsoll.core.changes import changing
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.lineage.entities import NodeRef
from plimsoll.lineage.service import LineageService
from plimsoll.platform import Platform

P = "default"


def lineage_of(platform: Platform) -> LineageService:
    service = platform.lineage
    assert isinstance(service, LineageService)
    return service


def link(platform: Platform, source: str, target: str, role: str, context: str | None = None) -> None:
    lineage_of(platform).add_edge(source, target, role, context, project=P, actor="tester")


def ids(graph_or_nodes: object) -> list[str]:
    nodes = getattr(graph_or_nodes, "nodes", graph_or_nodes)
    return [node.id for node in nodes]  # type: ignore[attr-defined]


def chain(platform: Platform) -> None:
    """raw@1 -> clean@1 -> features@1, each derived; clean@1 used by a training run."""
    link(platform, "dataset:raw@1", "dataset:clean@1", "derived")
    link(platform, "dataset:clean@1", "dataset:features@1", "derived")


def test_record_and_link_are_idempotent(platform: Platform) -> None:
    lineage = lineage_of(platform)
    with changing(platform.db, platform.events, "tester") as change:
        first = lineage.record(change, "dataset:raw@1", project=P, attributes={"rows": 10})
        again = lineage.record(change, "dataset:raw@1", project=P, attributes={"rows": 10})
        lineage.link(change, "dataset:raw@1", "dataset:clean@1", "derived", project=P)
        lineage.link(change, "dataset:raw@1", "dataset:clean@1", "derived", project=P)
    assert first == again and first.attributes == {"rows": 10} and first.label == "raw@1"
    link(platform, "dataset:raw@1", "dataset:clean@1", "derived")  # and once more, on its own
    graph = lineage.downstream(P, "dataset:raw@1")
    assert ids(graph) == ["dataset:raw@1", "dataset:clean@1"]
    assert [edge.to_dict() for edge in graph.edges] == [
        {"from": "dataset:raw@1", "to": "dataset:clean@1", "role": "derived", "context": None}
    ]
    with platform.db.read() as conn:
        actions = [event.action for event in audit.list_events(conn)]
    assert actions.count("lineage.link") == 1 and actions.count("lineage.record") == 2


def test_a_label_recorded_again_replaces_the_old_one(platform: Platform) -> None:
    lineage = lineage_of(platform)
    with changing(platform.db, platform.events, "tester") as change:
        lineage.record(change, "deployment:api", project=P)
        relabelled = lineage.record(change, "deployment:api", project=P, label="Churn API")
    assert relabelled.label == "Churn API"
    assert lineage.downstream(P, "deployment:api").nodes[0].label == "Churn API"


def test_the_same_edge_with_another_context_is_a_conflict(platform: Platform) -> None:
    lineage = lineage_of(platform)
    run = _run(platform)
    link(platform, "dataset:clean@1", f"run:{run}", "used", "training")
    with pytest.raises(Conflict, match="already linked with context 'training', not 'test'"):
        link(platform, "dataset:clean@1", f"run:{run}", "used", "test")
    with pytest.raises(InvalidParameter, match=r"to: .* a node is not its own lineage"):
        link(platform, "dataset:clean@1", "dataset:clean@1", "derived")
    with pytest.raises(InvalidParameter, match="role: must be one of"):
        link(platform, "dataset:clean@1", "dataset:x@1", "copied")
    assert lineage.downstream(P, "dataset:clean@1").edges[0].context == "training"


def test_walks_follow_depth_both_ways(platform: Platform) -> None:
    chain(platform)
    lineage = lineage_of(platform)
    assert ids(lineage.downstream(P, "dataset:raw@1", 1)) == ["dataset:raw@1", "dataset:clean@1"]
    whole = lineage.downstream(P, "dataset:raw@1")
    assert ids(whole) == ["dataset:raw@1", "dataset:clean@1", "dataset:features@1"]
    assert len(whole.edges) == 2
    one_up = lineage.upstream(P, "dataset:features@1", depth=1)
    assert ids(one_up) == ["dataset:features@1", "dataset:clean@1"]
    assert [(e.source, e.target) for e in one_up.edges] == [("dataset:clean@1", "dataset:features@1")]
    assert ids(lineage.upstream(P, "dataset:raw@1")) == ["dataset:raw@1"]
    with pytest.raises(InvalidParameter, match=r"depth: 0 is outside the range 1..100"):
        lineage.downstream(P, "dataset:raw@1", 0)


def test_versions_are_exact(platform: Platform) -> None:
    chain(platform)
    link(platform, "dataset:raw@2", "dataset:clean@2", "derived")
    assert ids(lineage_of(platform).downstream(P, "dataset:raw@2")) == ["dataset:raw@2", "dataset:clean@2"]


def test_a_cycle_ends_the_walk(platform: Platform) -> None:
    chain(platform)
    link(platform, "dataset:features@1", "dataset:raw@1", "derived")  # nonsense, but it must not hang
    lineage = lineage_of(platform)
    assert len(lineage.downstream(P, "dataset:raw@1").nodes) == 3
    assert len(lineage.downstream(P, "dataset:raw@1").edges) == 3
    assert len(lineage.upstream(P, "dataset:clean@1", depth=100).nodes) == 3
    assert ids(lineage.impact(P, "dataset:raw@1").impacted) == []


def test_impact_goes_through_derived_data_and_runs(platform: Platform) -> None:
    chain(platform)
    training, scoring = _run(platform), _run(platform)
    link(platform, "dataset:features@1", f"run:{training}", "used", "training")
    link(platform, f"run:{training}", "model:churn/1", "produced")
    link(platform, f"run:{training}", "dataset:predictions@1", "produced")
    link(platform, "dataset:predictions@1", f"run:{scoring}", "used", "evaluation")
    link(platform, "dataset:other@1", "dataset:unrelated@1", "derived")
    impact = lineage_of(platform).impact(P, "dataset:raw@1")
    assert set(ids(impact.impacted)) == {f"run:{training}", f"run:{scoring}", "model:churn/1"}
    assert impact.to_dict()["node"] == "dataset:raw@1"
    assert lineage_of(platform).dependents(P, "dataset:clean@1", ["model"])[0].id == "model:churn/1"
    assert lineage_of(platform).dependents(P, "dataset:never@1", ["model"]) == []


def test_a_tombstoned_node_stays_in_the_graph(platform: Platform) -> None:
    chain(platform)
    run = _run(platform)
    link(platform, "dataset:clean@1", f"run:{run}", "used", "training")
    link(platform, f"run:{run}", "model:churn/1", "produced")
    lineage = lineage_of(platform)
    with changing(platform.db, platform.events, "tester") as change:
        marked = lineage.tombstone(change, "model:churn/1", project=P)
        assert lineage.tombstone(change, "model:never/1", project=P) is None
    assert marked is not None and marked.tombstoned
    upstream = lineage.upstream(P, "model:churn/1")
    assert upstream.nodes[0].tombstoned_at == marked.tombstoned_at
    assert "dataset:raw@1" in ids(upstream)
    impacted = lineage.impact(P, "dataset:raw@1").impacted
    assert [node.tombstoned for node in impacted if node.kind == "model"] == [True]
    # A deleted model protects nothing any more.
    assert lineage.dependents(P, "dataset:raw@1", ["model"]) == []


def test_a_run_is_linked_in_its_experiments_project_only(platform: Platform) -> None:
    run = _run(platform)
    link(platform, "dataset:clean@1", f"run:{run}", "used", "training")
    node = lineage_of(platform).upstream(P, f"run:{run}").nodes[0]
    assert node.label == platform.tracking.get_run(run).name
    platform.projects.create("other", actor="tester")
    with pytest.raises(NotFound, match=f"to: run '{run}' not found in project 'other'"):
        lineage_of(platform).add_edge("dataset:x@1", f"run:{run}", "used", project="other", actor="t")
    missing = "f" * 32
    with pytest.raises(NotFound, match=f"from: run '{missing}' not found in project 'default'"):
        link(platform, f"run:{missing}", "model:m/1", "produced")
    # Refused whole: the dataset node of the refused link was not left behind.
    with pytest.raises(NotFound, match="'dataset:x@1' is not in the lineage graph of project 'other'"):
        lineage_of(platform).downstream("other", "dataset:x@1")


def test_unknown_nodes_and_projects_are_not_found(platform: Platform) -> None:
    with pytest.raises(NotFound, match="node 'dataset:nope@1' is not in the lineage graph of project"):
        lineage_of(platform).downstream(P, "dataset:nope@1")
    with pytest.raises(NotFound, match="project 'nowhere' not found"):
        lineage_of(platform).upstream("nowhere", "dataset:nope@1")
    with pytest.raises(NotFound, match="project 'nowhere' not found"):
        lineage_of(platform).add_edge("dataset:a@1", "dataset:b@1", "derived", project="nowhere", actor="t")


def test_aliases_resolve_through_their_kinds_resolver(platform: Platform) -> None:
    lineage = lineage_of(platform)
    link(platform, "dataset:clean@1", "model:churn/3", "derived")
    with pytest.raises(NotFound, match="model 'churn' not found"):  # the registry's resolver
        lineage.upstream(P, "model:churn@production")
    asked: list[tuple[str, NodeRef]] = []

    def registry(project: str, ref: NodeRef) -> str:
        asked.append((project, ref))
        return "model:churn/3"

    lineage.add_resolver("model", registry)
    assert ids(lineage.upstream(P, "model:churn@production")) == ["model:churn/3", "dataset:clean@1"]
    assert asked == [(P, NodeRef("model", "churn@production", "production"))]


def _run(platform: Platform) -> str:
    experiment = platform.tracking.get_or_create_experiment("lineage", actor="tester")
    return str(platform.tracking.create_run(experiment.id, actor="tester").id)


def _reference(
    edges: list[tuple[str, str]], start: str, downstream: bool, depth: int | None
) -> tuple[list[str], list[tuple[str, str]]]:
    """What a walk answered before it had a limit, by breadth-first search: the nodes within
    `depth` steps (the start first, then by kind and key) and the edges out of those nodes
    fewer than `depth` steps away into the set."""
    step: dict[str, list[str]] = {}
    for source, target in edges:
        here, there = (source, target) if downstream else (target, source)
        step.setdefault(here, []).append(there)
    least = {start: 0}
    frontier = [start]
    while frontier and (depth is None or least[frontier[0]] < depth):
        following = []
        for here in frontier:
            for there in step.get(here, []):
                if there not in least:
                    least[there] = least[here] + 1
                    following.append(there)
        frontier = following
    nodes = [start, *sorted((n for n in least if n != start), key=lambda n: tuple(n.split(":", 1)))]
    followed = sorted(
        (s, t)
        for s, t in edges
        if ((here := s if downstream else t) in least)
        and (t if downstream else s) in least
        and (depth is None or least[here] < depth)
    )
    return nodes, followed


def test_walks_answer_as_a_breadth_first_search_would(platform: Platform) -> None:
    """Random graphs with diamonds and cycles: every walk, bounded or not, either way, answers
    the nodes and edges the search above finds (what the walks answered before the limit)."""
    import random

    rng = random.Random(13)
    names = [f"dataset:d{i}@1" for i in range(30)]
    edges = sorted({(rng.choice(names), rng.choice(names)) for _ in range(45)} - {(n, n) for n in names})
    for source, target in edges:
        link(platform, source, target, "derived")
    lineage = lineage_of(platform)
    present = sorted({n for edge in edges for n in edge})
    for start in present[::3]:
        for downstream in (True, False):
            for depth in (None, 1, 2, 5):
                walk = lineage.downstream if downstream else lineage.upstream
                graph = walk(P, start, depth)
                nodes, followed = _reference(edges, start, downstream, depth)
                assert ids(graph) == nodes, (start, downstream, depth)
                assert [(e.source, e.target) for e in graph.edges] == followed, (start, downstream, depth)
                assert not graph.truncated and graph.total == len(nodes)


def test_a_limit_cuts_the_answer_and_says_so(platform: Platform) -> None:
    """raw@1 -> a@1 .. e@1 (recorded in that order) -> each used by the same run -> a model."""
    lineage = lineage_of(platform)
    run = _run(platform)
    children = [f"dataset:{name}@1" for name in "edcba"]  # recorded e first: the lowest id
    for child in children:
        link(platform, "dataset:raw@1", child, "derived")
    for child in children:
        link(platform, child, f"run:{run}", "used", "training")
    link(platform, f"run:{run}", "model:churn/1", "produced")
    whole = lineage.downstream(P, "dataset:raw@1")
    assert (whole.truncated, whole.total, len(whole.nodes)) == (False, 8, 8)
    cut = lineage.downstream(P, "dataset:raw@1", limit=3)
    # The start and the earliest recorded others, in the answer's order; the edges between them.
    assert ids(cut) == ["dataset:raw@1", "dataset:d@1", "dataset:e@1"]
    assert (cut.truncated, cut.total) == (True, 8)
    assert [(e.source, e.target) for e in cut.edges] == [
        ("dataset:raw@1", "dataset:d@1"),
        ("dataset:raw@1", "dataset:e@1"),
    ]
    assert cut.to_dict()["truncated"] is True and cut.to_dict()["total"] == 8
    assert ids(lineage.upstream(P, "model:churn/1", limit=1)) == ["model:churn/1"]
    bounded = lineage.downstream(P, "dataset:raw@1", 1, limit=2)
    assert (len(bounded.nodes), bounded.total, bounded.truncated) == (2, 6, True)
    impact = lineage.impact(P, "dataset:raw@1")
    assert impact.counts == {"model": 1, "run": 1} and not impact.truncated and impact.total == 2
    first = lineage.impact(P, "dataset:raw@1", limit=1)
    assert ids(first.impacted) == ["model:churn/1"] and first.truncated and first.total == 2
    assert first.counts == {"model": 1, "run": 1}
    for limit in (0, 100_001):
        with pytest.raises(InvalidParameter, match=r"limit: .* outside the range 1..100000"):
            lineage.downstream(P, "dataset:raw@1", limit=limit)
    # Cut or not, dependents (garbage collection's question) always answers in full.
    assert [node.id for node in lineage.dependents(P, "dataset:raw@1", ["model", "run"])] == [
        "model:churn/1",
        f"run:{run}",
    ]
