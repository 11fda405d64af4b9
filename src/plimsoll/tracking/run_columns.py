"""Which params and metrics a table of runs shows as columns: one rule for the web UI and the CLI.

Columns whose values differ between the runs shown are what a reader compares, so they come first;
a key with one value in every run (say `dataset`) says nothing per row and is said once, above the
table. The key a search sorts or filters on is always a column, whatever its values. A key that
some runs lack differs (absent is a value too). Pure: no I/O, runs in, a choice out.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.entities import Run
from plimsoll.tracking.search_language import BoolOp, Comparison, Node, Not, parse_filter, parse_order_item

KeyKind = Literal["param", "metric"]
KINDS: tuple[KeyKind, ...] = ("param", "metric")


@dataclass(frozen=True, order=True)
class KeyColumn:
    kind: KeyKind
    key: str

    @property
    def id(self) -> str:
        """A stable name for the column, such as `metric:roc_auc` (what the page remembers)."""
        return f"{self.kind}:{self.key}"


@dataclass(frozen=True)
class ColumnChoice:
    shown: list[KeyColumn]
    """Sorted on, then filtered on, then the params that differ, then the metrics that differ."""
    constant: list[tuple[KeyColumn, str | float]] = field(default_factory=list)
    """Keys with the same value in every run (and not sorted or filtered on), with that value."""
    pinned: list[KeyColumn] = field(default_factory=list)
    """The keys the search sorts or filters on: shown even when constant or absent from every run."""


def choose_columns(
    runs: Sequence[Run], *, order_by: Sequence[str] = (), filter: str | None = None
) -> ColumnChoice:
    """The param and metric columns for a table of `runs` searched with `order_by` and `filter`
    (text that does not parse pins nothing: the search reports it)."""
    pinned = _unique([*_sorted_on(order_by), *_filtered_on(filter)])
    varying: dict[KeyKind, list[KeyColumn]] = {"param": [], "metric": []}
    constant: list[tuple[KeyColumn, str | float]] = []
    for kind in KINDS:
        values = _values_by_key(runs, kind)
        for key in sorted(values):
            column = KeyColumn(kind, key)
            if column in pinned:
                continue
            found = values[key]
            if len(found) == len(runs) and _all_same(found):
                constant.append((column, found[0]))
            else:
                varying[kind].append(column)
    return ColumnChoice([*pinned, *varying["param"], *varying["metric"]], constant, pinned)


def _values_by_key(runs: Sequence[Run], kind: KeyKind) -> dict[str, list[str | float]]:
    values: dict[str, list[str | float]] = {}
    for run in runs:
        for key, value in (run.params if kind == "param" else run.metrics).items():
            values.setdefault(key, []).append(value)
    return values


def _all_same(values: list[str | float]) -> bool:
    first = values[0]
    return all(value == first or _both_nan(value, first) for value in values[1:])


def _both_nan(a: str | float, b: str | float) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)


def _unique(columns: list[KeyColumn]) -> list[KeyColumn]:
    return list(dict.fromkeys(columns))


def _sorted_on(order_by: Sequence[str]) -> Iterator[KeyColumn]:
    for text in order_by:
        try:
            operand = parse_order_item(text).operand
        except InvalidParameter:
            continue
        if operand.entity in KINDS:
            yield KeyColumn(operand.entity, operand.key)


def _filtered_on(filter: str | None) -> Iterator[KeyColumn]:
    if not filter or not filter.strip():
        return
    try:
        tree = parse_filter(filter)
    except InvalidParameter:
        return
    if tree is not None:
        yield from _operands(tree)


def _operands(node: Node) -> Iterator[KeyColumn]:
    if isinstance(node, Comparison):
        if node.operand.entity in KINDS:
            yield KeyColumn(node.operand.entity, node.operand.key)
    elif isinstance(node, BoolOp):
        for child in node.children:
            yield from _operands(child)
    elif isinstance(node, Not):
        yield from _operands(node.child)
