"""The limits the OpenAPI document declares (`core.wire`) are the ones the checks enforce
(`core.validation`): for any string, the check accepts it exactly when the declared schema does,
read by a JSON Schema validator (ECMA-262 regular expressions), as a client generated from the
document would read it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsonschema_rs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_artifact_path, check_id, check_key, check_name, check_text
from plimsoll.core.wire import ArtifactPath, Description, Id, Key, Name

# Text that hits the rules: separators, dots, spaces of every kind, controls, drive letters.
ALPHABET = st.sampled_from(list("ab.:/\\ _-C\x00\x1f\x7f\t\n\u00a0\u2028\u3000\u0085é"))
TEXT = st.text(ALPHABET, max_size=12) | st.text(max_size=12)

CASES: list[tuple[str, Any, Callable[[str], object]]] = [
    ("name", Name, lambda v: check_name("f", v)),
    ("key", Key, lambda v: check_key("f", v)),
    ("artifact path", ArtifactPath, lambda v: check_artifact_path("f", v)),
    ("id", Id, lambda v: check_id("f", v)),
    ("description", Description, lambda v: check_text("f", v, max_length=20_000)),
]


def _accepts(check: Callable[[str], object], value: str) -> bool:
    try:
        check(value)
    except InvalidParameter:
        return False
    return True


@pytest.mark.parametrize(("label", "declared", "check"), CASES, ids=[c[0] for c in CASES])
def test_the_declared_schema_accepts_what_the_check_accepts(
    label: str, declared: Any, check: Callable[[str], object]
) -> None:
    validator = jsonschema_rs.validator_for(TypeAdapter(declared).json_schema())

    @settings(max_examples=400, deadline=None)
    @given(TEXT)
    @example("..")
    @example(".")
    @example("a\n")
    @example(" a")
    @example("a/../b")
    @example("C:/x")
    @example("0123456789abcdef0123456789abcdef\n")
    def agree(value: str) -> None:
        assert validator.is_valid(value) == _accepts(check, value), (label, value)

    agree()
