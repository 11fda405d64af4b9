"""Limits and checks shared by every capability. Each failure names the field and the limit."""

from __future__ import annotations

import math
import numbers
import re
from functools import lru_cache
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
# What no database column takes: a lone UTF-16 surrogate (not UTF-8 at all, so neither driver can
# encode it) and NUL (PostgreSQL's text refuses it; refused on SQLite too, so both stores agree).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Bidirectional embeddings, overrides and isolates: they make a name display as another one.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_INT_TEXT = re.compile(r"-?[0-9]{1,19}")


def unstorable(value: str) -> str | None:
    """Why no database stores `value` (its first offending character, described), or None."""
    if value.isascii() and "\x00" not in value:  # the common case, at C speed
        return None
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char = found.group(0)
    if char == "\x00":
        return f"contains NUL (\\x00) at position {found.start()}, which cannot be stored"
    return (
        f"contains a lone UTF-16 surrogate (U+{ord(char):04X}) at position {found.start()}, which is "
        "not valid Unicode text and cannot be stored"
    )


def check_storable(field: str, value: Any) -> str:
    """Any text bound for the database: a string with no lone surrogate and no NUL."""
    if not isinstance(value, str):
        raise InvalidParameter(field, f"must be a string, got {type(value).__name__}")
    problem = unstorable(value)
    if problem is not None:
        raise InvalidParameter(field, problem)
    return value


def find_unstorable(value: Any, path: str = "") -> tuple[str, str] | None:
    """The first string in a parsed JSON value (keys included) that no database stores, as
    (its dotted path, why), or None. The path is safe to show: odd characters are escaped."""
    if isinstance(value, str):
        problem = unstorable(value)
        return None if problem is None else (path or "body", problem)
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{printable(key)}" if path else printable(key)
            if isinstance(key, str) and (problem := unstorable(key)) is not None:
                return (path or "body", f"has a key that {problem}")
            found = find_unstorable(item, inner)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = find_unstorable(item, f"{path}.{index}" if path else str(index))
            if found is not None:
                return found
    return None


def printable(value: Any) -> str:
    """`value` as text that any JSON encoder and log takes: surrogates and NUL escaped."""
    text = str(value)
    if _UNSTORABLE.search(text) is None:
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def parse_int_text(field: str, text: str, *, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """An integer written in a URL or form: ASCII digits with an optional minus, nothing else
    (Python's `int()` also takes '٣', ' 3 ', '3_000' and, past 4,300 digits, raises)."""
    if not isinstance(text, str) or _INT_TEXT.fullmatch(text) is None:
        raise InvalidParameter(
            field, f"must be a whole number written in ASCII digits, got {printable(text)[:40]!r}"
        )
    return check_int(field, int(text), minimum=minimum, maximum=maximum)


# The same rules as regular expressions that JSON Schema (ECMA-262), Python's `re` and the fuzzers
# read alike: the OpenAPI document declares them (`core.wire`), and each check below ends by
# matching its own, so that what the document promises is what the server accepts.
# `str.strip()` strips the characters of `str.isspace()`: the controls among them are refused
# anywhere, the rest only at either end of a name.
_SPACES = r"\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# Names also refuse the bidirectional controls (see check_name).
_BIDI = r"\u202a-\u202e\u2066-\u2069"
_NAME_INNER = rf"[^\u0000-\u001f\u007f{_BIDI}/\\]"
_NAME_EDGE = rf"[^\u0000-\u001f\u007f{_SPACES}{_BIDI}/\\]"
NAME_PATTERN = rf"^(?!\.\.?$){_NAME_EDGE}(?:{_NAME_INNER}*{_NAME_EDGE})?$"
# A name followed by '@VERSION', '/VERSION' or '@ALIAS' in a reference (datasets, models, the
# lineage graph's node ids): NAME_PATTERN with '@' and ':' refused too, so a reference reads one way.
_FORBIDDEN_CLASS = "/\\\\]"
assert NAME_PATTERN.count(_FORBIDDEN_CLASS) == 3, "the name pattern changed: update this"
REFERENCE_NAME_PATTERN = NAME_PATTERN.replace(_FORBIDDEN_CLASS, "/\\\\@:]")
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


def bounded_reference_name_pattern(max_length: int) -> str:
    """REFERENCE_NAME_PATTERN unanchored and of at most `max_length` characters: a part of a
    larger pattern (`NAME/VERSION`, `kind:NAME@VERSION`) in the OpenAPI document."""
    inner = rf"[^\u0000-\u001f\u007f{_BIDI}/\\@:]"
    edge = rf"[^\u0000-\u001f\u007f{_SPACES}{_BIDI}/\\@:]"
    return rf"(?!\.\.?(?:[/@]|$)){edge}(?:{inner}{{0,{max_length - 2}}}{edge})?"


def check_name(field: str, value: Any, *, max_length: int = MAX_NAME_LENGTH) -> str:
    """Names of projects, experiments, runs and users: shown in URLs, paths and lists, so no
    slashes, controls, or bidirectional overrides (which make one name display as another)."""
    text = check_storable(field, value)
    if len(text) > max_length:
        raise InvalidParameter(field, f"is {len(text)} characters long; the limit is {max_length}")
    problem = _name_problem(text) if len(text) <= MAX_NAME_LENGTH else _uncached_name_problem(text)
    if problem is not None:
        raise InvalidParameter(field, problem)
    return text


_REFERENCE_SEPARATORS = re.compile(r"[@/:]")


def check_reference_name(field: str, value: Any, *, max_length: int) -> str:
    """A name followed by '@VERSION', '/VERSION' or '@ALIAS' in a reference (datasets, features,
    models, the lineage graph's ids): `check_name`, and no '@' or ':' either (REFERENCE_NAME_PATTERN)."""
    text = check_name(field, value, max_length=max_length)
    found = _REFERENCE_SEPARATORS.search(text)
    if found is not None:
        raise InvalidParameter(
            field,
            f"must not contain '@', '/' or ':' (they separate a name from its version or alias); "
            f"got {found.group(0)!r} at position {found.start()} in {text!r}",
        )
    return text


def _uncached_name_problem(text: str) -> str | None:
    if not text or not text.strip():
        return "must not be empty"
    if text != text.strip():
        return "must not start or end with white space"
    if _NAME_FORBIDDEN.search(text):
        return "must not contain '/', '\\' or control characters"
    if text in {".", ".."}:
        return "must not be '.' or '..'"
    bidi = _BIDI_CONTROLS.search(text)
    if bidi is not None:
        return (
            f"must not contain bidirectional control characters (U+{ord(bidi.group(0)):04X} at "
            f"position {bidi.start()}): they make a name display as a different one"
        )
    if not _NAME_RE.fullmatch(text):
        return f"must match {NAME_PATTERN}"
    return None


# Every write checks the same few names and keys again (an actor, a project, a run's param keys):
# the verdict on a short string is kept. Longer strings are refused by length before the cache.
_name_problem = lru_cache(maxsize=4096)(_uncached_name_problem)


def check_id(field: str, value: Any) -> str:
    """Ids of runs, experiments and batches: 32 lowercase hex digits (see `core.ids`). Checked by
    the services, and by the HTTP client before an id becomes part of a URL path, where a slash or
    a dot segment would reach another route instead of this check."""
    if not isinstance(value, str) or not is_id(value):
        raise InvalidParameter(field, "must be 32 lowercase hexadecimal characters")
    return value


def check_key(field: str, value: Any) -> str:
    """Keys of params, metrics and tags: letters, digits and `_ - . / : space`, no path tricks."""
    if type(value) is str and len(value) <= MAX_KEY_LENGTH:
        problem = _key_problem(value)  # the pattern admits only ASCII: no storable check is needed
    else:
        text = check_storable(field, value)
        problem = f"is {len(text)} characters long; the limit is {MAX_KEY_LENGTH}"
    if problem is not None:
        raise InvalidParameter(field, problem)
    return str(value)


@lru_cache(maxsize=4096)
def _key_problem(text: str) -> str | None:
    if not text:
        return "must not be empty"
    if not _KEY_PATTERN.match(text):
        return f"{text!r} may contain only letters, digits and the characters _ - . / : and space"
    if text.startswith("/") or any(part in {".", ".."} for part in text.split("/")):
        return f"{text!r} must be relative and contain no '.' or '..' segments"
    if not _KEY_RE.fullmatch(text):
        return f"must match {KEY_PATTERN}"
    return None


def check_text(field: str, value: Any, *, max_length: int) -> str:
    """Free text (descriptions, param and tag values): anything a database stores, up to a length."""
    if type(value) is str and len(value) <= max_length and value.isascii() and "\x00" not in value:
        return value  # the common case, without the calls below
    text = check_storable(field, value)
    if len(text) > max_length:
        raise InvalidParameter(field, f"is {len(text)} characters long; the limit is {max_length}")
    return text


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
    check_storable(field, value)
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
