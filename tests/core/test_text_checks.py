"""The shared checks of text bound for a store (`core.validation`): what no database takes (a lone
surrogate, NUL) and names that display as other names (bidirectional controls) are refused,
naming the field; integers written in URLs are ASCII digits only. The services use them, so the
embedded SDK, which reaches them without HTTP, is refused as the server refuses."""

from __future__ import annotations

import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import (
    check_artifact_path,
    check_key,
    check_name,
    check_storable,
    check_text,
    find_unstorable,
    parse_int_text,
    printable,
)
from plimsoll.platform import Platform

SURROGATES = ["\ud800", "a\udfffb", "\udc00\ud800"]


@pytest.mark.parametrize("text", [*SURROGATES, "a\x00b"])
@pytest.mark.parametrize(
    "check",
    [
        check_storable,
        check_name,
        check_key,
        lambda field, value: check_text(field, value, max_length=100),
        check_artifact_path,
    ],
)
def test_text_no_store_takes_is_refused_by_every_check(check: object, text: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        check("where", text)  # type: ignore[operator]
    assert refused.value.field == "where"


def test_the_refusal_says_what_and_where_and_can_itself_be_sent() -> None:
    with pytest.raises(InvalidParameter, match=r"lone UTF-16 surrogate \(U\+D800\) at position 1"):
        check_storable("f", "a\ud800")
    with pytest.raises(InvalidParameter, match=r"NUL .* at position 2"):
        check_storable("f", "ab\x00")
    assert printable("a\ud800\x00") == "a\\ud800\\x00"
    printable("a\ud800\x00").encode("utf-8")  # no surrogate left to break an encoder


@pytest.mark.parametrize("control", ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2069"])
def test_names_with_bidirectional_controls_are_refused(control: str) -> None:
    with pytest.raises(InvalidParameter, match="bidirectional control") as refused:
        check_name("name", f"invoice{control}fdp.exe")
    assert refused.value.field == "name"


def test_odd_but_storable_text_passes() -> None:
    assert check_name("name", "café ☕ 中文 \U0001f600 a\u0301") == "café ☕ 中文 \U0001f600 a\u0301"
    assert check_text("t", "\u202e is fine in free text", max_length=100)


def test_the_first_unstorable_string_of_a_body_is_found_by_its_path() -> None:
    body = {"runs": [{"run_id": "x", "tags": {"ok": "fine", "bad": "a\ud800"}}]}
    assert find_unstorable(body) == ("runs.0.tags.bad", find_unstorable({"x": "a\ud800"})[1])  # type: ignore[index]
    assert find_unstorable({"tags": {"k\x00": "v"}}) == (
        "tags",
        "has a key that contains NUL (\\x00) at position 1, which cannot be stored",
    )
    assert find_unstorable({"a": ["b", 1, None, {"c": "d"}]}) is None


@pytest.mark.parametrize("text", ["²", "٣", "３", " 3", "3 ", "3_000", "+3", "3.0", "", "0x10", "9" * 5000])
def test_integers_in_urls_are_ascii_digits_only(text: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        parse_int_text("page_size", text)
    assert refused.value.field == "page_size"


def test_integers_in_urls_within_bounds() -> None:
    assert parse_int_text("n", "42") == 42
    assert parse_int_text("n", "-7") == -7
    with pytest.raises(InvalidParameter, match="outside the range"):
        parse_int_text("n", "9223372036854775808")
    with pytest.raises(InvalidParameter, match="outside the range"):
        parse_int_text("n", "0", minimum=1)


def test_the_embedded_sdk_is_refused_by_the_services(platform: Platform) -> None:
    tracking = platform.tracking
    with pytest.raises(InvalidParameter) as refused:
        tracking.create_experiment("a\ud800", actor="local")
    assert refused.value.field == "name"
    with pytest.raises(InvalidParameter) as refused:
        tracking.create_experiment("ok", description="x\ud800", actor="local")
    assert refused.value.field == "description"
    with pytest.raises(InvalidParameter) as refused:
        tracking.find_experiment("x\x00")
    assert refused.value.field == "name"
    with pytest.raises(InvalidParameter) as refused:
        tracking.search_runs(filter="params.a = '\udc00'")
    assert refused.value.field == "filter"
    with pytest.raises(InvalidParameter) as refused:
        tracking.search_runs(order_by=["params.a", "params.\x00"])
    assert refused.value.field == "order_by.1"
    with pytest.raises(InvalidParameter, match="bidirectional"):
        platform.projects.create("team\u202eb", actor="local")
