"""The lineage graph's records and its node ids, with no I/O.

A node id reads `kind:KEY`, one form per kind:

    dataset:NAME@VERSION     a dataset version
    feature:NAME@VERSION     a feature's definition, one version of it
    run:ID                   a run (its whole id; the CLI and SDK also take the short id)
    model:NAME/VERSION       a model version (VERSION a whole number)
    model:NAME@ALIAS         a model alias, resolved to a version by the kind's resolver
    deployment:NAME          and the later kinds (evaluation, monitor, ...) likewise: one NAME

Names may not contain `@`, `/` or `:`, so an id never needs escaping. Later capabilities add
their kinds to `NODE_KINDS`, their roles to `EDGE_ROLES`, and contexts to `EDGE_CONTEXTS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import is_id
from plimsoll.core.validation import check_name, printable

# kind -> the form of its key ("versioned": NAME@VERSION, "id": a run id, "numbered":
# NAME/VERSION or NAME@ALIAS, "name": NAME)
NODE_KINDS: dict[str, str] = {
    "dataset": "versioned",
    "feature": "versioned",
    "run": "id",
    "model": "numbered",
    "deployment": "name",
    "evaluation": "name",
    "decision": "name",
    "monitor": "name",
    "alert": "name",
    "incident": "name",
    "pipeline_run": "name",
}
_KEY_FORMS = {
    "versioned": "NAME@VERSION",
    "id": "ID (32 hexadecimal digits)",
    "numbered": "NAME/VERSION or NAME@ALIAS",
    "name": "NAME",
}

# Edges point the way data flows: a dataset version -> the run that used it, a run -> what it
# produced, a parent dataset version -> the one derived from it.
EDGE_ROLES: tuple[str, ...] = ("used", "produced", "derived")
EDGE_CONTEXTS: tuple[str, ...] = ("training", "validation", "test", "evaluation")

# What `impact` reports: the things a change upstream may invalidate.
IMPACT_KINDS: tuple[str, ...] = ("run", "model", "deployment")

MAX_DEPTH = 100
# The nodes a walk or an impact answers with at most: a UI or a terminal shows far fewer, and the
# answer says when it was cut (`truncated`, with the `total` the walk reached).
DEFAULT_NODE_LIMIT = 10_000
MAX_NODE_LIMIT = 100_000
MAX_PART_LENGTH = 256
MAX_NODE_ID_LENGTH = 540  # the longest kind, ':', and two parts with their separator
MAX_LABEL_LENGTH = 512
_FORBIDDEN = ("@", "/", ":")

Direction = Literal["upstream", "downstream"]


def _node_id_pattern() -> str:
    """`parse_node`'s grammar as one regular expression, for the OpenAPI document (`api.NodeId`):
    a part is a name (`core.validation.NAME_PATTERN`) of at most MAX_PART_LENGTH characters
    without `@`, `/` or `:`. The alias form (`model:NAME@ALIAS`) is left out: it names a node only
    once the kind's resolver is plugged in, and none is yet."""
    from plimsoll.core.ids import ID_PATTERN
    from plimsoll.core.validation import bounded_reference_name_pattern

    part = bounded_reference_name_pattern(MAX_PART_LENGTH)
    run_id = ID_PATTERN.removeprefix("^").removesuffix("$")
    forms = {
        "versioned": f"{part}@{part}",
        "id": run_id,
        "numbered": f"{part}/[1-9][0-9]{{0,{MAX_PART_LENGTH - 1}}}",
        "name": part,
    }
    by_form: dict[str, list[str]] = {}
    for kind, form in NODE_KINDS.items():
        by_form.setdefault(form, []).append(kind)
    return "^(?:" + "|".join(f"(?:{'|'.join(kinds)}):{forms[form]}" for form, kinds in by_form.items()) + ")$"


NODE_ID_PATTERN = _node_id_pattern()


@dataclass(frozen=True)
class NodeRef:
    """A parsed node id. `alias` is set only for the alias form (`model:NAME@ALIAS`), whose key is
    not known until the kind's resolver names the version."""

    kind: str
    key: str
    alias: str | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    def __str__(self) -> str:
        return self.id


def parse_node(field: str, value: Any) -> NodeRef:
    """The node `value` names (a NodeRef passes through); every refusal names `field`."""
    if isinstance(value, NodeRef):
        return value
    if not isinstance(value, str):
        raise InvalidParameter(
            field, f"must be a node id such as 'dataset:NAME@VERSION', got {type(value).__name__}"
        )
    if len(value) > MAX_NODE_ID_LENGTH:
        raise InvalidParameter(field, f"is {len(value)} characters long; the limit is {MAX_NODE_ID_LENGTH}")
    kind, separator, key = value.partition(":")
    if not separator:
        raise InvalidParameter(
            field, f"{printable(value)!r} is not a node id: write KIND:KEY, e.g. 'dataset:NAME@VERSION'"
        )
    form = NODE_KINDS.get(kind)
    if form is None:
        raise InvalidParameter(
            field, f"unknown node kind {printable(kind)!r}; the kinds are: {', '.join(NODE_KINDS)}"
        )
    return _parse_key(field, kind, form, key)


def _parse_key(field: str, kind: str, form: str, key: str) -> NodeRef:
    expected = f"a {kind} node reads '{kind}:{_KEY_FORMS[form]}'"
    if form == "id":
        if not is_id(key):
            raise InvalidParameter(
                field,
                f"{printable(key)!r} is not a run id: {expected} (the CLI and SDK also take a short id)",
            )
        return NodeRef(kind, key)
    if form == "name":
        return NodeRef(kind, _part(field, key, "NAME", expected))
    if form == "versioned":
        name, at, version = key.partition("@")
        if not at:
            raise InvalidParameter(field, f"{printable(key)!r} names no version: {expected}")
        return NodeRef(
            kind, f"{_part(field, name, 'NAME', expected)}@{_part(field, version, 'VERSION', expected)}"
        )
    name, slash, version = key.partition("/")
    if slash:
        too_long = len(version) > MAX_PART_LENGTH
        if too_long or not version.isascii() or not version.isdigit() or version.startswith("0"):
            raise InvalidParameter(
                field,
                f"version {printable(version[:40])!r} must be a whole number from 1, of at most "
                f"{MAX_PART_LENGTH} digits: {expected}",
            )
        return NodeRef(kind, f"{_part(field, name, 'NAME', expected)}/{version}")
    name, at, alias = key.partition("@")
    if not at:
        raise InvalidParameter(field, f"{printable(key)!r} names no version: {expected}")
    name, alias = _part(field, name, "NAME", expected), _part(field, alias, "ALIAS", expected)
    return NodeRef(kind, f"{name}@{alias}", alias=alias)


def _part(field: str, text: str, what: str, expected: str) -> str:
    for character in _FORBIDDEN:
        if character in text:
            raise InvalidParameter(field, f"{what} {printable(text)!r} contains {character!r}: {expected}")
    try:
        return check_name(field, text, max_length=MAX_PART_LENGTH)
    except InvalidParameter as problem:
        why = problem.message.removeprefix(field + ":").strip()
        raise InvalidParameter(field, f"{what} {why}") from None


def check_role(field: str, value: Any) -> str:
    if value not in EDGE_ROLES:
        raise InvalidParameter(field, f"must be one of {', '.join(EDGE_ROLES)}; got {printable(value)!r}")
    return str(value)


def check_context(field: str, value: Any) -> str | None:
    if value is not None and value not in EDGE_CONTEXTS:
        raise InvalidParameter(
            field, f"must be one of {', '.join(EDGE_CONTEXTS)}, or none; got {printable(value)!r}"
        )
    return None if value is None else str(value)


def check_kinds(field: str, values: Any) -> tuple[str, ...]:
    kinds = tuple(values)
    for kind in kinds:
        if kind not in NODE_KINDS:
            raise InvalidParameter(
                field, f"unknown node kind {printable(kind)!r}; the kinds are: {', '.join(NODE_KINDS)}"
            )
    return kinds


@dataclass(frozen=True)
class Node:
    kind: str
    key: str
    label: str
    attributes: dict[str, Any] = field(default_factory=dict)
    created_at: int = 0
    tombstoned_at: int | None = None

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.key}"

    @property
    def tombstoned(self) -> bool:
        return self.tombstoned_at is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "key": self.key,
            "attributes": self.attributes,
            "created_at": self.created_at,
            "tombstoned_at": self.tombstoned_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Node:
        return cls(
            data["kind"],
            data["key"],
            data["label"],
            dict(data.get("attributes") or {}),
            int(data.get("created_at") or 0),
            data.get("tombstoned_at"),
        )


@dataclass(frozen=True)
class Edge:
    source: str  # node ids
    target: str
    role: str
    context: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"from": self.source, "to": self.target, "role": self.role, "context": self.context}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Edge:
        return cls(data["from"], data["to"], data["role"], data.get("context"))


@dataclass(frozen=True)
class Graph:
    """The nodes a walk reached (the start node first, then by kind and key) and the edges it
    followed between them. `truncated`: the walk reached more than the limit asked for, `total`
    nodes in all, and these are the first of them (the edges, those between the nodes kept)."""

    nodes: list[Node]
    edges: list[Edge]
    truncated: bool = False
    total: int | None = None  # None: len(nodes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [node.to_dict() for node in self.nodes],
            "edges": [edge.to_dict() for edge in self.edges],
            "truncated": self.truncated,
            "total": len(self.nodes) if self.total is None else self.total,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Graph:
        nodes = [Node.from_dict(n) for n in data["nodes"]]
        return cls(
            nodes,
            [Edge.from_dict(e) for e in data["edges"]],
            bool(data.get("truncated", False)),
            int(data.get("total", len(nodes))),
        )


@dataclass(frozen=True)
class Impact:
    """What lies downstream of `node`, directly or through data derived from it: the runs, model
    versions and deployments (`IMPACT_KINDS`) a change to it may invalidate, by kind and key.
    `counts` has how many of each kind there are in all; `truncated`: more than the limit asked
    for, and `impacted` lists the first of them."""

    node: str
    impacted: list[Node]
    counts: dict[str, int] = field(default_factory=dict)
    truncated: bool = False

    @property
    def total(self) -> int:
        return sum(self.counts.values()) if self.counts else len(self.impacted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "impacted": [node.to_dict() for node in self.impacted],
            "counts": self.counts,
            "truncated": self.truncated,
            "total": self.total,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Impact:
        return cls(
            data["node"],
            [Node.from_dict(n) for n in data["impacted"]],
            {str(kind): int(count) for kind, count in (data.get("counts") or {}).items()},
            bool(data.get("truncated", False)),
        )


MAX_ATTRIBUTES = 100
MAX_ATTRIBUTE_TEXT_LENGTH = 8000


def check_attributes(field: str, values: Any) -> dict[str, Any]:
    """A node's attributes: up to MAX_ATTRIBUTES keys (tracking's key rules), each a string,
    number, boolean or null; a node is a reference to a thing kept elsewhere, not its copy."""
    from plimsoll.core.validation import check_key, check_text

    if not isinstance(values, dict):
        raise InvalidParameter(field, f"must be an object of key to value, got {type(values).__name__}")
    if len(values) > MAX_ATTRIBUTES:
        raise InvalidParameter(field, f"has {len(values)} keys; the limit is {MAX_ATTRIBUTES}")
    for key, value in values.items():
        check_key(f"{field} key", key)
        if isinstance(value, str):
            check_text(f"{field}.{key}", value, max_length=MAX_ATTRIBUTE_TEXT_LENGTH)
        elif value is not None and not isinstance(value, bool | int | float):
            raise InvalidParameter(
                f"{field}.{key}", f"must be a string, number, boolean or null, got {type(value).__name__}"
            )
    return dict(values)


@dataclass(frozen=True)
class RunDataset:
    """A dataset version a run used (`role` "used", with its `context`) or produced, as the graph
    holds it: the node's key (`NAME@VERSION`) and attributes (digest, files, bytes, rows)."""

    run_id: str
    role: str
    key: str
    context: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    tombstoned: bool = False

    @property
    def name(self) -> str:
        return self.key.partition("@")[0]

    @property
    def version(self) -> str:
        return self.key.partition("@")[2]


@dataclass(frozen=True)
class DatasetFacts:
    """What the capability that keeps dataset versions tells lineage about one, which the graph's
    node does not hold: its columns as (name, type) pairs (None: not tabular) and its description."""

    schema: tuple[tuple[str, str], ...] | None = None
    description: str = ""


# Runs per page of an OpenLineage export: each gives one or two events.
DEFAULT_EXPORT_PAGE = 100
MAX_EXPORT_PAGE = 500


@dataclass(frozen=True)
class OpenLineagePage:
    """OpenLineage run events (the spec's JSON documents) of a page of runs, oldest run first;
    `next_page_token` asks for the next page, None after the last."""

    events: list[dict[str, Any]]
    next_page_token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"events": self.events, "next_page_token": self.next_page_token}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenLineagePage:
        return cls(list(data["events"]), data.get("next_page_token"))
