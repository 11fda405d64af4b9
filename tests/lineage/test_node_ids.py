"""Node ids: one form per kind, each refusal naming the field and what the id should read."""

from __future__ import annotations

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.lineage.entities import (
    MAX_NODE_ID_LENGTH,
    NODE_KINDS,
    NodeRef,
    check_attributes,
    check_context,
    check_role,
    parse_node,
)

RUN_ID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("text", "kind", "key", "alias"),
    [
        ("dataset:churn@3", "dataset", "churn@3", None),
        ("dataset:churn raw@2024-06-01", "dataset", "churn raw@2024-06-01", None),
        (f"run:{RUN_ID}", "run", RUN_ID, None),
        ("model:churn/12", "model", "churn/12", None),
        ("model:churn@production", "model", "churn@production", "production"),
        ("deployment:churn-api", "deployment", "churn-api", None),
        ("pipeline_run:nightly-7", "pipeline_run", "nightly-7", None),
    ],
)
def test_each_form_parses_and_formats_back(text: str, kind: str, key: str, alias: str | None) -> None:
    ref = parse_node("node", text)
    assert ref == NodeRef(kind, key, alias)
    assert ref.id == str(ref) == text


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("churn", "is not a node id: write KIND:KEY"),
        ("table:churn", "unknown node kind 'table'; the kinds are: " + ", ".join(NODE_KINDS)),
        ("dataset:churn", "names no version: a dataset node reads 'dataset:NAME@VERSION'"),
        ("dataset:@3", "NAME must not be empty"),
        ("dataset:churn@", "VERSION must not be empty"),
        ("dataset:a/b@3", "NAME 'a/b' contains '/'"),
        ("dataset:churn@3@4", "VERSION '3@4' contains '@'"),
        ("dataset:churn@v:1", "VERSION 'v:1' contains ':'"),
        ("model:churn/0", "version '0' must be a whole number from 1"),
        ("model:churn/x", "version 'x' must be a whole number from 1"),
        ("model:churn/1/2", "version '1/2' must be a whole number"),
        ("model:churn", "names no version: a model node reads 'model:NAME/VERSION or NAME@ALIAS'"),
        ("run:1234", "is not a run id"),
        ("deployment: api", "NAME must not start or end with white space"),
        ("deployment:a\x00b", "NAME contains NUL"),
    ],
)
def test_bad_ids_are_refused_naming_the_field(text: str, says: str) -> None:
    with pytest.raises(InvalidParameter) as raised:
        parse_node("from", text)
    assert raised.value.field == "from"
    assert raised.value.message.startswith("from: ")
    assert says in raised.value.message


def test_the_length_is_bounded_before_anything_else() -> None:
    with pytest.raises(InvalidParameter, match=f"the limit is {MAX_NODE_ID_LENGTH}"):
        parse_node("node", "dataset:" + "a" * MAX_NODE_ID_LENGTH + "@1")
    with pytest.raises(InvalidParameter, match=r"node: must be a node id .* got int"):
        parse_node("node", 3)


def test_roles_contexts_and_attributes_are_checked_by_name() -> None:
    assert check_role("role", "used") == "used"
    with pytest.raises(InvalidParameter, match="role: must be one of used, produced, derived; got 'fed'"):
        check_role("role", "fed")
    assert check_context("context", None) is None
    with pytest.raises(InvalidParameter, match="context: must be one of training, validation"):
        check_context("context", "prod")
    assert check_attributes("attributes", {"rows": 10, "path": "s3://x"}) == {"rows": 10, "path": "s3://x"}
    with pytest.raises(InvalidParameter, match=r"attributes\.nested: must be a string, number"):
        check_attributes("attributes", {"nested": {"a": 1}})


def test_the_documented_pattern_is_the_grammar() -> None:
    """The OpenAPI document's pattern for a node id accepts what `parse_node` accepts (the alias
    form aside, which needs a resolver) and refuses what it refuses."""
    import re

    from plimsoll.lineage.entities import NODE_ID_PATTERN

    pattern = re.compile(NODE_ID_PATTERN)
    good = [
        "dataset:raw@1",
        "run:" + "a" * 32,
        "model:churn/3",
        "deployment:api",
        "monitor:a b",
        "dataset:..x@2",
    ]
    bad = [
        "x",
        "dataset:raw",
        "model:churn/0",
        "table:x",
        "deployment:.",
        "deployment: a",
        "dataset:a@.",
        "deployment:a/b",
        "run:abc",
        "deployment:" + "x" * 257,
        "dataset:a@b@c",
        "model:a@b",
        "model:a/1" + "0" * 256,  # the key column holds two parts of 256 and their separator
    ]
    for value in good:
        assert pattern.fullmatch(value), value
        parse_node("node", value)
    for value in bad:
        assert not pattern.fullmatch(value), value
        if value != "model:a@b":
            with pytest.raises(InvalidParameter):
                parse_node("node", value)
