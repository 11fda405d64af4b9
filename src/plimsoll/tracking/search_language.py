"""The run search language, as text: a tokenizer and a recursive-descent parser to a small frozen AST.

    filter     := or_expr
    or_expr    := and_expr (OR and_expr)*
    and_expr   := not_expr (AND not_expr)*
    not_expr   := NOT not_expr | '(' or_expr ')' | comparison
    comparison := operand ( cmp value | [NOT] IN '(' value (',' value)* ')'
                          | [NOT] LIKE string | [NOT] ILIKE string | IS [NOT] NULL )
    order_item := operand [ASC | DESC]

The parser also type-checks each comparison (tags take text, metrics numbers, ...), so that every
error carries the position it is about and the compiler in `search.py` only sees valid trees.
Positions in messages are 1-based character offsets into the text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal, NoReturn

from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.entities import RunStatus
from plimsoll.tracking.search_tokens import ErrorAt, Scalar, Token, tokenize

MAX_FILTER_LENGTH = 4_000
MAX_COMPARISONS = 100
MAX_DEPTH = 32

Entity = Literal["param", "metric", "tag", "attribute"]

ENTITY_PREFIXES: dict[str, Entity] = {
    "params": "param",
    "param": "param",
    "metrics": "metric",
    "metric": "metric",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
# Attribute name (and alias) -> runs column name.
ATTRIBUTES = {
    "id": "id",
    "run_id": "id",
    "name": "name",
    "run_name": "name",
    "status": "status",
    "start_time": "start_time",
    "end_time": "end_time",
    "user": "user",
    "experiment_id": "experiment_id",
    "parent_run_id": "parent_run_id",
    "lifecycle_stage": "lifecycle_stage",
}
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
STATUSES = tuple(status.value for status in RunStatus)
COMPARATORS = frozenset({"=", "!=", "<>", "<", "<=", ">", ">="})
ORDERING = frozenset({"<", "<=", ">", ">="})


# --- AST -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Operand:
    entity: Entity
    key: str  # the param/metric/tag key, or the runs column name for attributes
    position: int


@dataclass(frozen=True)
class Value:
    value: Scalar  # str for quoted strings; int/float for numbers (float NaN/±inf only for metrics)
    position: int


@dataclass(frozen=True)
class Comparison:
    operand: Operand
    # "=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN", "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE",
    # "IS NULL", "IS NOT NULL"
    op: str
    values: tuple[Value, ...]  # none for IS [NOT] NULL, several for [NOT] IN, else one
    position: int


@dataclass(frozen=True)
class BoolOp:
    op: Literal["AND", "OR"]
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    child: Node


Node = Comparison | BoolOp | Not


# What a search sorts by when it names no order.
DEFAULT_ORDER_BY = ("attributes.start_time DESC",)


@dataclass(frozen=True)
class OrderItem:
    operand: Operand
    descending: bool


# --- parser --------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, field: str) -> None:
        self.error = ErrorAt(field, text)
        self.tokens = tokenize(text, field)
        self.index = 0
        self.comparisons = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.token.kind == "keyword" and self.token.text.upper() in words

    def fail(self, what: str, expected: str, token: Token | None = None) -> NoReturn:
        self.error(what, (token or self.token).position, expected)

    def unexpected(self, expected: str) -> NoReturn:
        token = self.token
        what = "unexpected end of filter" if token.kind == "end" else f"unexpected {token.text!r}"
        self.fail(what, expected)

    # filter := or_expr END
    def parse_filter(self) -> Node:
        node = self.or_expr(0)
        if self.token.kind != "end":
            self.unexpected("AND, OR or the end of the filter")
        return node

    def or_expr(self, depth: int) -> Node:
        children = [self.and_expr(depth)]
        while self.at_keyword("OR"):
            self.advance()
            children.append(self.and_expr(depth))
        return children[0] if len(children) == 1 else BoolOp("OR", tuple(children))

    def and_expr(self, depth: int) -> Node:
        children = [self.not_expr(depth)]
        while self.at_keyword("AND"):
            self.advance()
            children.append(self.not_expr(depth))
        return children[0] if len(children) == 1 else BoolOp("AND", tuple(children))

    def not_expr(self, depth: int) -> Node:
        token = self.token
        if self.at_keyword("NOT") or (token.kind == "punct" and token.text == "("):
            if depth >= MAX_DEPTH:
                self.fail(f"filter nests deeper than the limit of {MAX_DEPTH} levels", "a flatter filter")
            self.advance()
            if token.kind == "keyword":
                return Not(self.not_expr(depth + 1))
            node = self.or_expr(depth + 1)
            if not (self.token.kind == "punct" and self.token.text == ")"):
                self.unexpected(f"')' to close the '(' at position {token.position + 1}")
            self.advance()
            return node
        return self.comparison()

    def comparison(self) -> Comparison:
        operand = self.operand()
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            self.fail(f"filter has more than the limit of {MAX_COMPARISONS} comparisons", "fewer comparisons")
        token = self.token
        if token.kind == "op":
            self.advance()
            op = "!=" if token.text == "<>" else token.text
            values: tuple[Value, ...] = (self.value(),)
        elif self.at_keyword("IS"):
            self.advance()
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            if not self.at_keyword("NULL"):
                self.unexpected("NULL after IS" + (" NOT" if negated else ""))
            self.advance()
            op, values = ("IS NOT NULL" if negated else "IS NULL"), ()
        else:
            negated = self.at_keyword("NOT")
            if negated:
                self.advance()
            if not self.at_keyword("IN", "LIKE", "ILIKE"):
                expected = (
                    "IN, LIKE or ILIKE after NOT"
                    if negated
                    else (
                        "an operator (=, !=, <>, <, <=, >, >=, [NOT] IN, [NOT] LIKE, [NOT] ILIKE, IS [NOT] NULL)"
                    )
                )
                self.unexpected(expected)
            word = self.advance().text.upper()
            op = f"NOT {word}" if negated else word
            values = self.value_list() if word == "IN" else (self.value(),)
        return _checked(Comparison(operand, op, values, operand.position), self.error)

    def operand(self) -> Operand:
        token = self.token
        if token.kind != "ident":
            if token.kind == "keyword" and token.text.upper() != "NULL":
                self.unexpected("a comparison such as params.lr > 0.01 before " + token.text.upper())
            self.unexpected("a key such as params.lr, metrics.acc, tags.team or an attribute such as status")
        self.advance()
        return resolve_operand(token, self.error)

    def value(self) -> Value:
        token = self.token
        if token.kind in ("string", "number"):
            self.advance()
            assert token.value is not None
            return Value(token.value, token.position)
        if token.kind == "quoted" and token.text.startswith('"'):
            self.fail(
                "double quotes are for keys, not values",
                f"a single-quoted string such as '{token.value}'",
            )
        if token.kind == "keyword" and token.text.upper() == "NULL":
            self.fail("compare with NULL using IS NULL or IS NOT NULL", "IS [NOT] NULL instead of = NULL")
        self.unexpected("a value: a single-quoted string or a number")

    def value_list(self) -> tuple[Value, ...]:
        if not (self.token.kind == "punct" and self.token.text == "("):
            self.unexpected("'(' to start the IN list")
        self.advance()
        values = [self.value()]
        while self.token.kind == "punct" and self.token.text == ",":
            self.advance()
            values.append(self.value())
        if not (self.token.kind == "punct" and self.token.text == ")"):
            self.unexpected("',' or ')' in the IN list")
        self.advance()
        return tuple(values)

    def order_item(self) -> OrderItem:
        operand = self.operand()
        descending = False
        if self.at_keyword("ASC", "DESC"):
            descending = self.advance().text.upper() == "DESC"
        if self.token.kind != "end":
            self.unexpected("ASC, DESC or the end of the item")
        return OrderItem(operand, descending)


def resolve_operand(token: Token, error: ErrorAt) -> Operand:
    """`params.lr`, params.`a b`, `tags.mlflow.runName` (key = all after the first dot) or `status`."""
    if token.key is not None:
        if "." in token.text:
            error("a quoted key needs a plain prefix", token.position, 'e.g. params.`a b` or tags."a.b"')
        prefix, dot, key = token.text, ".", token.key
    else:
        prefix, dot, key = token.text.partition(".")
    if not dot:
        column = ATTRIBUTES.get(prefix.lower())
        if column is None:
            error(f"unknown attribute {prefix!r}", token.position, _attribute_help())
        return Operand("attribute", column, token.position)
    entity = ENTITY_PREFIXES.get(prefix.lower())
    if entity is None:
        error(f"unknown prefix {prefix!r}", token.position, "params., metrics., tags. or attributes.")
    if entity == "attribute":
        column = ATTRIBUTES.get(key.lower())
        if column is None:
            error(f"unknown attribute {key!r}", token.position, _attribute_help())
        return Operand("attribute", column, token.position)
    if not key:
        error("empty key", token.position, f"a key after '{prefix}.'")
    return Operand(entity, key, token.position)


def _attribute_help() -> str:
    names = ", ".join(sorted(ATTRIBUTES))
    return f"one of {names}, or a key such as params.<key>, metrics.<key>, tags.<key>"


def _checked(comparison: Comparison, error: ErrorAt) -> Comparison:
    """Type-check one comparison against what its operand holds; upper-case status values."""
    operand, op, values = comparison.operand, comparison.op, comparison.values
    entity = operand.entity
    numeric_only = entity == "metric" or (entity == "attribute" and operand.key in NUMERIC_ATTRIBUTES)
    text_only = entity == "tag" or (entity == "attribute" and not numeric_only)
    name = {"param": "params", "metric": "metrics", "tag": "tags"}.get(entity, operand.key)
    if op.endswith("LIKE") and numeric_only:
        error(f"{op} needs text but {name} holds numbers", operand.position, "=, !=, <, <=, >, >= or IN")
    if len({isinstance(v.value, str) for v in values}) > 1:
        error("an IN list mixes strings and numbers", values[0].position, "values of one type")
    for value in values:
        if numeric_only and isinstance(value.value, str):
            error(f"{name} compare numbers", value.position, f"a number, not the string {value.value!r}")
        if text_only and not isinstance(value.value, str):
            error(f"{name} compare text", value.position, f"a single-quoted string such as '{value.value}'")
        if isinstance(value.value, float) and not math.isfinite(value.value):
            if entity != "metric":
                error("NaN and Infinity only compare with metrics", value.position, "a finite number")
            if math.isnan(value.value) and op not in ("=", "!=", "IN", "NOT IN"):
                error(f"NaN cannot be compared with {op}", value.position, "=, !=, IN or NOT IN with NaN")
        if op.endswith("LIKE") and re.search(r"(?<!\\)(?:\\\\)*\\$", str(value.value)):
            error("a LIKE pattern cannot end with a lone \\", value.position, "\\\\ for a literal backslash")
        if op in ORDERING and isinstance(value.value, str):
            error(
                f"{op} compares numbers only",
                value.position,
                "a number; compare text with =, !=, IN, LIKE or ILIKE",
            )
    if entity == "attribute" and operand.key == "status" and not op.endswith("LIKE"):
        for value in values:
            if str(value.value).upper() not in STATUSES:
                error(f"unknown status {value.value!r}", value.position, "one of " + ", ".join(STATUSES))
        values = tuple(Value(str(v.value).upper(), v.position) for v in values)
        return Comparison(operand, op, values, comparison.position)
    return comparison


def _checked_length(text: str, field: str) -> None:
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidParameter(
            field, f"is {len(text):,} characters long; the limit is {MAX_FILTER_LENGTH:,} characters"
        )


def parse_filter(text: str) -> Node | None:
    """Parse a filter; None when it is empty. Raises InvalidParameter("filter", ...) when invalid."""
    _checked_length(text, "filter")
    if not text.strip():
        return None
    return _Parser(text, "filter").parse_filter()


def parse_order_item(text: str) -> OrderItem:
    """Parse one `order_by` item such as `metrics.acc DESC`. Raises InvalidParameter("order_by", ...)."""
    _checked_length(text, "order_by")
    return _Parser(text, "order_by").order_item()
