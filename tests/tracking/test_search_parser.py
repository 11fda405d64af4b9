"""The search language as text: tokens, precedence, quoting, type checks, limits and error messages."""

from __future__ import annotations

import math

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.search_language import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    BoolOp,
    Comparison,
    Node,
    Not,
    Operand,
    parse_filter,
    parse_order_item,
)


def parse(text: str) -> Node:
    node = parse_filter(text)
    assert node is not None
    return node


def comparison(text: str) -> Comparison:
    node = parse(text)
    assert isinstance(node, Comparison)
    return node


def shape(node: Node) -> object:
    """A compact form for asserting tree shape: ('AND', ['x', ...]) with comparisons as their key."""
    if isinstance(node, BoolOp):
        return (node.op, [shape(child) for child in node.children])
    if isinstance(node, Not):
        return ("NOT", shape(node.child))
    return node.operand.key


def error_of(text: str) -> str:
    with pytest.raises(InvalidParameter) as info:
        parse_filter(text)
    assert info.value.field == "filter"
    return info.value.message


def test_empty_filter_is_none() -> None:
    assert parse_filter("") is None
    assert parse_filter("   \n ") is None


def test_precedence_not_over_and_over_or() -> None:
    text = "params.a = '1' OR params.b = '1' AND NOT params.c = '1' OR params.d = '1'"
    assert shape(parse(text)) == ("OR", ["a", ("AND", ["b", ("NOT", "c")]), "d"])


def test_parentheses_override_precedence() -> None:
    text = "(params.a = '1' OR params.b = '1') AND NOT (params.c = '1' OR params.d = '1')"
    assert shape(parse(text)) == ("AND", [("OR", ["a", "b"]), ("NOT", ("OR", ["c", "d"]))])


def test_keywords_are_case_insensitive() -> None:
    text = "params.a = '1' and not params.b in ('x') or params.c iLiKe 'y' AnD params.d is not null"
    assert shape(parse(text)) == ("OR", [("AND", ["a", ("NOT", "b")]), ("AND", ["c", "d"])])


@pytest.mark.parametrize(
    ("text", "entity", "key"),
    [
        ("params.lr = 1", "param", "lr"),
        ("param.lr = 1", "param", "lr"),
        ("PARAMS.lr = 1", "param", "lr"),
        ("metrics.acc = 1", "metric", "acc"),
        ("metric.acc = 1", "metric", "acc"),
        ("tags.team = 'a'", "tag", "team"),
        ("tag.team = 'a'", "tag", "team"),
        ("tags.mlflow.runName = 'a'", "tag", "mlflow.runName"),
        ("tags.a.0.b = 'a'", "tag", "a.0.b"),
        ("params.`learning rate` = 1", "param", "learning rate"),
        ('metrics."val/loss" = 1', "metric", "val/loss"),
        ("params.`it``s` = 'a'", "param", "it`s"),
        ("tags.`x'; DROP TABLE runs; --` = 'a'", "tag", "x'; DROP TABLE runs; --"),
        ("attributes.status = 'RUNNING'", "attribute", "status"),
        ("attr.name = 'a'", "attribute", "name"),
        ("run.run_name = 'a'", "attribute", "name"),
        ("run_id = 'a'", "attribute", "id"),
        ("id = 'a'", "attribute", "id"),
        ("Start_Time > 1", "attribute", "start_time"),
        ("user = 'a'", "attribute", "user"),
        ("experiment_id = 'a'", "attribute", "experiment_id"),
        ("parent_run_id IS NULL", "attribute", "parent_run_id"),
        ("lifecycle_stage = 'active'", "attribute", "lifecycle_stage"),
    ],
)
def test_operands(text: str, entity: str, key: str) -> None:
    assert comparison(text).operand == Operand(entity, key, 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "op", "values"),
    [
        ("params.x = 'a'", "=", ("a",)),
        ("params.x != 'a'", "!=", ("a",)),
        ("params.x <> 'a'", "!=", ("a",)),
        ("params.x < 1", "<", (1,)),
        ("params.x <= 1.5", "<=", (1.5,)),
        ("params.x > -2", ">", (-2,)),
        ("params.x >= 1e-3", ">=", (0.001,)),
        ("params.x >= -.5E+2", ">=", (-50.0,)),
        ("params.x IN ('a', 'b')", "IN", ("a", "b")),
        ("params.x NOT IN (1, 2.5)", "NOT IN", (1, 2.5)),
        ("params.x LIKE 'a%'", "LIKE", ("a%",)),
        ("params.x NOT LIKE 'a%'", "NOT LIKE", ("a%",)),
        ("params.x ILIKE 'a%'", "ILIKE", ("a%",)),
        ("params.x NOT ILIKE 'a%'", "NOT ILIKE", ("a%",)),
        ("params.x IS NULL", "IS NULL", ()),
        ("params.x IS NOT NULL", "IS NOT NULL", ()),
        ("params.x='it''s'", "=", ("it's",)),
        ("params.x = '1''; DROP TABLE runs; --'", "=", ("1'; DROP TABLE runs; --",)),
        ("status = 'finished'", "=", ("FINISHED",)),
        ("status IN ('running', 'Killed')", "IN", ("RUNNING", "KILLED")),
    ],
)
def test_operators_and_values(text: str, op: str, values: tuple[object, ...]) -> None:
    parsed = comparison(text)
    assert parsed.op == op
    assert tuple(value.value for value in parsed.values) == values


def test_metric_special_numbers() -> None:
    assert math.isnan(float(comparison("metrics.x = NaN").values[0].value))
    assert comparison("metrics.x = infinity").values[0].value == math.inf
    assert comparison("metrics.x > -Infinity").values[0].value == -math.inf
    values = comparison("metrics.x IN (1, NaN)").values
    assert values[0].value == 1
    assert math.isnan(float(values[1].value))


def test_numbers_keep_int_or_float() -> None:
    assert type(comparison("start_time > 1700000000000").values[0].value) is int
    assert type(comparison("metrics.x > 1.0").values[0].value) is float


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "params.x = ",
            "unexpected end of filter: at position 12 (end of filter); expected a value: "
            "a single-quoted string or a number",
        ),
        (
            "params.x = 'abc",
            "unterminated string: at position 12 near \"'abc\"; expected a closing '",
        ),
        (
            "tags.team = 5",
            "tags compare text: at position 13 near '5'; expected a single-quoted string such as '5'",
        ),
        (
            "metrics.acc = 'high'",
            "metrics compare numbers: at position 15 near \"'high'\"; expected a number, not the string 'high'",
        ),
        (
            "status = 'DONE'",
            "unknown status 'DONE': at position 10 near \"'DONE'\"; "
            "expected one of RUNNING, FINISHED, FAILED, KILLED",
        ),
        (
            "params.x = '1' params.y = '2'",
            "unexpected 'params.y': at position 16 near 'params.y'; expected AND, OR or the end of the filter",
        ),
        (
            "(params.x = '1'",
            "unexpected end of filter: at position 16 (end of filter); expected ')' to close the '(' at position 1",
        ),
        (
            "params.x = '1'; DROP TABLE runs; --",
            "unexpected character ';': at position 15 near ';'; expected a key, an operator, a value, '(', ')' or ','",
        ),
        (
            "metrics.val-loss > 1",
            "unexpected character '-' in a key: at position 12 near '-loss'; "
            "expected a plain key; quote other keys in backticks, e.g. metrics.`val-loss`",
        ),
        (
            'params.x = "a"',
            "double quotes are for keys, not values: at position 12 near '\"a\"'; "
            "expected a single-quoted string such as 'a'",
        ),
        (
            "params.x = NULL",
            "compare with NULL using IS NULL or IS NOT NULL: at position 12 near 'NULL'; "
            "expected IS [NOT] NULL instead of = NULL",
        ),
        ("params.x == 1", "unexpected '=': at position 11 near '='"),
        ("params.x NOT = 1", "unexpected '=': at position 14 near '='; expected IN, LIKE or ILIKE after NOT"),
        ("params.x IS NOT", "expected NULL after IS NOT"),
        ("params.x IN ()", "unexpected ')': at position 14 near ')'"),
        ("params.x IN ('a', 1)", "an IN list mixes strings and numbers: at position 14"),
        ("params.x IN 'a'", "expected '(' to start the IN list"),
        ("params.x > 'a'", "> compares numbers only: at position 12 near \"'a'\""),
        ("name < 'b'", "< compares numbers only: at position 8"),
        ("name = 5", "name compare text: at position 8"),
        ("metrics.x LIKE 'a'", "LIKE needs text but metrics holds numbers: at position 1"),
        ("start_time ILIKE '1%'", "ILIKE needs text but start_time holds numbers"),
        ("params.x = NaN", "NaN and Infinity only compare with metrics: at position 12"),
        ("metrics.x < NaN", "NaN cannot be compared with <: at position 13"),
        ("params.x = 1e999", "number out of range: at position 12"),
        ("params.x = 1abc", "malformed number: at position 12 near '1abc'"),
        ("params.x LIKE 'a\\'", "a LIKE pattern cannot end with a lone \\"),
        ("foo.bar = 1", "unknown prefix 'foo': at position 1 near 'foo.bar'"),
        (
            "colour = 'red'",
            "unknown attribute 'colour': at position 1 near 'colour'; expected one of end_time",
        ),
        ("attributes.colour = 'red'", "unknown attribute 'colour'"),
        ("params. = 'x'", "empty key part: at position 7"),
        ("params.a.`b` = 'x'", "a quoted key needs a plain prefix"),
        ("AND params.x = '1'", "unexpected 'AND': at position 1"),
        ("params.x = '1' AND", "unexpected end of filter: at position 19 (end of filter)"),
        ("params.x\x00 = '1'", "the NUL character is not allowed"),
        ("params.`x = '1'", "unterminated quoted key: at position 8"),
    ],
)
def test_error_messages(text: str, message: str) -> None:
    assert message in error_of(text)


def test_error_details_carry_the_position() -> None:
    with pytest.raises(InvalidParameter) as info:
        parse_filter("params.x = '1' OR tags.t = 2")
    assert info.value.details == {"field": "filter", "position": 28}


def test_limit_on_length() -> None:
    text = " OR ".join(["params.x = '1'"] * 300)
    assert len(text) > MAX_FILTER_LENGTH
    assert f"the limit is {MAX_FILTER_LENGTH:,} characters" in error_of(text)


def test_limit_on_comparisons() -> None:
    assert parse_filter(" OR ".join(["id = 'a'"] * MAX_COMPARISONS)) is not None
    message = error_of(" OR ".join(["id = 'a'"] * (MAX_COMPARISONS + 1)))
    assert f"more than the limit of {MAX_COMPARISONS} comparisons" in message


def test_limit_on_depth() -> None:
    assert parse_filter("(" * MAX_DEPTH + "id = 'a'" + ")" * MAX_DEPTH) is not None
    assert parse_filter("NOT " * MAX_DEPTH + "id = 'a'") is not None
    message = error_of("(" * (MAX_DEPTH + 1) + "id = 'a'" + ")" * (MAX_DEPTH + 1))
    assert f"nests deeper than the limit of {MAX_DEPTH} levels: at position {MAX_DEPTH + 1}" in message
    assert "nests deeper" in error_of("NOT (" * 20 + "id = 'a'" + ")" * 20)


def test_order_items() -> None:
    item = parse_order_item("metrics.acc DESC")
    assert (item.operand.entity, item.operand.key, item.descending) == ("metric", "acc", True)
    item = parse_order_item("params.`learning rate` asc")
    assert (item.operand.key, item.descending) == ("learning rate", False)
    assert parse_order_item("name").operand == Operand("attribute", "name", 0)
    with pytest.raises(InvalidParameter, match="order_by: unexpected 'sideways': at position 13"):
        parse_order_item("metrics.acc sideways")
    with pytest.raises(InvalidParameter, match="order_by: unknown attribute 'colour'"):
        parse_order_item("colour")
