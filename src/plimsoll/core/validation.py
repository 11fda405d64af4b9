"""Limits and checks shared by every capability. Each failure names the field and the limit."""

from __future__ import annotations

import math
import numbers
import re
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import is_id

MAX_NAME_LENGTH = 256
MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_DESCRIPTION_LENGTH = 20_000
MAX_ARTIFACT_PATH_LENGTH = 1024
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-. /:]+$")
_NAME_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# The same rules as regular expressions that JSON Schema (ECMA-262), Python's `re` and the fuzzers
# read alike: the OpenAPI document declares them (`core.wire`), and each check below ends by
# matching its own, so that what the document promises is what the server accepts.
# `str.strip()` strips the characters of `str.isspace()`: the controls among them are refused
# anywhere, the rest only at either end of a name.
_SPACES = r"\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NAME_INNER = r"[^\u0000-\u001f\u007f/\\]"
_NAME_EDGE = rf"[^\u0000-\u001f\u007f{_SPACES}/\\]"
NAME_PATTERN = rf"^(?!\.\.?$){_NAME_EDGE}(?:{_NAME_INNER}*{_NAME_EDGE})?$"
KEY_PATTERN = r"^(?!/)(?!(?:.*/)?\.\.?(?:/|$))[A-Za-z0-9_\-. /:]+$"
TEXT_PATTERN = r"^[^\u0000]*$"
# A segment is not empty, "." or "..": it starts with a character other than a dot, or with one
# dot and such a character, or with two dots and any character.
_SEGMENT_CHAR = r"[^\u0000-\u001f\u007f\\/]"
_NOT_DOT = r"[^\u0000-\u001f\u007f\\/.]"
_SEGMENT = rf"(?:{_NOT_DOT}|\.{_NOT_DOT}|\.\.{_SEGMENT_CHAR}){_SEGMENT_CHAR}*"
_RELATIVE_PATH = rf"(?![A-Za-z]:){_SEGMENT}(?:/{_SEGMENT})*"
ARTIFACT_PATH_PATTERN = rf"^{_RELATIVE_PATH}$"
# A listing's prefix: empty (everything), or a path that may end in slashes.
ARTIFACT_PREFIX_PATTERN = rf"^(?:{_RELATIVE_PATH}/*)?$"
_NAME_RE = re.compile(NAME_PATTERN)
_KEY_RE = re.compile(KEY_PATTERN)
_ARTIFACT_PATH_RE = re.compile(ARTIFACT_PATH_PATTERN)


def check_name(field: str, value: Any, *, max_length: int = MAX_NAME_LENGTH) -> str:
    """Names of projects, experiments and runs: shown in URLs and paths, so no slashes or controls."""
    if not isinstance(value, str):
        raise InvalidParameter(field, f"must be a string, got {type(value).__name__}")
    if not value or not value.strip():
        raise InvalidParameter(field, "must not be empty")
    if len(value) > max_length:
        raise InvalidParameter(field, f"is {len(value)} characters long; the limit is {max_length}")
    if value != value.strip():
        raise InvalidParameter(field, "must not start or end with white space")
    if _NAME_FORBIDDEN.search(value):
        raise InvalidParameter(field, "must not contain '/', '\\' or control characters")
    if value in {".", ".."}:
        raise InvalidParameter(field, "must not be '.' or '..'")
    if not _NAME_RE.fullmatch(value):
        raise InvalidParameter(field, f"must match {NAME_PATTERN}")
    return value


def check_id(field: str, value: Any) -> str:
    """Ids of runs, experiments and batches: 32 lowercase hex digits (see `core.ids`). Checked by
    the services, and by the HTTP client before an id becomes part of a URL path, where a slash or
    a dot segment would reach another route instead of this check."""
    if not isinstance(value, str) or not is_id(value):
        raise InvalidParameter(field, "must be 32 lowercase hexadecimal characters")
    return value


def check_key(field: str, value: Any) -> str:
    """Keys of params, metrics and tags: letters, digits and `_ - . / : space`, no path tricks."""
    if not isinstance(value, str):
        raise InvalidParameter(field, f"must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidParameter(field, "must not be empty")
    if len(value) > MAX_KEY_LENGTH:
        raise InvalidParameter(field, f"is {len(value)} characters long; the limit is {MAX_KEY_LENGTH}")
    if not _KEY_PATTERN.match(value):
        raise InvalidParameter(
            field,
            f"{value!r} may contain only letters, digits and the characters _ - . / : and space",
        )
    if value.startswith("/") or any(part in {".", ".."} for part in value.split("/")):
        raise InvalidParameter(field, f"{value!r} must be relative and contain no '.' or '..' segments")
    if not _KEY_RE.fullmatch(value):
        raise InvalidParameter(field, f"must match {KEY_PATTERN}")
    return value


def check_text(field: str, value: Any, *, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(field, f"must be a string, got {type(value).__name__}")
    if "\x00" in value:
        raise InvalidParameter(field, "must not contain NUL (\\x00) characters")
    if len(value) > max_length:
        raise InvalidParameter(field, f"is {len(value)} characters long; the limit is {max_length}")
    return value


def check_int(field: str, value: Any, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameter(field, f"must be an integer, got {type(value).__name__}")
    number = int(value)  # numpy integers become plain ints
    if not minimum <= number <= maximum:
        raise InvalidParameter(field, f"{number} is outside the range {minimum}..{maximum}")
    return number


def check_count(field: str, count: int, limit: int) -> None:
    if count > limit:
        raise InvalidParameter(field, f"has {count} items; the limit is {limit}")


NON_FINITE = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
    "inf": math.inf,
    "-inf": -math.inf,
}


def check_float(field: str, value: Any) -> float:
    """A metric value: any float, NaN and ±inf included (JSON carries those as strings)."""
    if isinstance(value, bool):
        raise InvalidParameter(field, "must be a number, got bool")
    if isinstance(value, numbers.Real):  # numpy and other numeric scalars included
        return float(value)
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    raise InvalidParameter(field, f"must be a number (or 'NaN', 'Infinity', '-Infinity'), got {value!r}")


def check_artifact_path(field: str, value: Any) -> str:
    """A relative POSIX path inside a run's artifact tree: no absolute paths, no traversal."""
    if not isinstance(value, str) or not value:
        raise InvalidParameter(field, "must be a non-empty string")
    if len(value) > MAX_ARTIFACT_PATH_LENGTH:
        raise InvalidParameter(
            field, f"is {len(value)} characters long; the limit is {MAX_ARTIFACT_PATH_LENGTH}"
        )
    if _CONTROL.search(value) or "\\" in value:
        raise InvalidParameter(field, "must not contain backslashes or control characters")
    if value.startswith("/") or re.match(r"^[A-Za-z]:", value):
        raise InvalidParameter(field, f"{value!r} must be a relative path")
    parts = value.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        raise InvalidParameter(field, f"{value!r} must not contain empty, '.' or '..' segments")
    if not _ARTIFACT_PATH_RE.fullmatch(value):
        raise InvalidParameter(field, f"must match {ARTIFACT_PATH_PATTERN}")
    return value
