"""Identifiers. Ids are made by whoever creates the thing (often the client), so that a retried
write names the same row and never duplicates it."""

from __future__ import annotations

import os
import re
import time

from plimsoll.core.errors import InvalidParameter

# Declared as is in the OpenAPI document (`core.wire.Id`).
ID_PATTERN = "^[0-9a-f]{32}$"
_ID_RE = re.compile(ID_PATTERN)


def new_id() -> str:
    """A 128-bit id as 32 hex digits, time-ordered (UUIDv7 layout) so that B-tree inserts stay local."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80 | (0x7 << 76) | (rand & ((1 << 76) - 1))
    value = (value & ~(0xC << 60)) | (0x8 << 60)  # RFC 9562 variant bits
    return f"{value:032x}"


def is_id(value: str) -> bool:
    # fullmatch: `$` alone would let a trailing newline through
    return _ID_RE.fullmatch(value) is not None


SHORT_ID_LENGTH = 8


def short_id(identifier: str) -> str:
    """The id as people read and type it, everywhere (CLI, pages, SDK): its last 8 hex digits. Ids
    are time-ordered (UUIDv7), so their *first* digits are a clock, shared by everything made in
    the same minute; the last ones are random."""
    return identifier[-SHORT_ID_LENGTH:]


# Fewer digits than a short id are accepted (people type what is unique); fewer than this would
# match too much to be worth a look-up.
MIN_SHORT_ID_DIGITS = 4
_SHORT_ID_RE = re.compile(rf"[0-9a-f]{{{MIN_SHORT_ID_DIGITS},31}}")
# Declared as is in the OpenAPI document (`core.wire.IdOrShortId`): a whole id or its end, any case.
ID_OR_SHORT_ID_PATTERN = rf"^[0-9a-fA-F]{{{MIN_SHORT_ID_DIGITS},32}}$"


def is_short_id(text: str) -> bool:
    """Whether `text` has the shape of a short id: 4 to 31 hex digits (any case, spaces around)."""
    return _SHORT_ID_RE.fullmatch(text.strip().lower()) is not None


def check_id_or_short_id(field: str, noun: str, text: object) -> str:
    """`text` as a whole id or a short id (the end of one), lowercased; else InvalidParameter
    naming `field`. Resolving a short id is the owning service's business."""
    if not isinstance(text, str):
        raise InvalidParameter(field, f"must be a string, got {type(text).__name__}")
    suffix = text.strip().lower()
    if is_id(suffix) or _SHORT_ID_RE.fullmatch(suffix):
        return suffix
    raise InvalidParameter(
        field,
        f"{text[:80]!r} is not {'an' if noun[0] in 'aeiou' else 'a'} {noun} id: give its 32 hex digits or its short id "
        f"(the last {SHORT_ID_LENGTH}, as lists show; at least {MIN_SHORT_ID_DIGITS})",
    )


def now_ms() -> int:
    return time.time_ns() // 1_000_000
