"""Identifiers. Ids are made by whoever creates the thing (often the client), so that a retried
write names the same row and never duplicates it."""

from __future__ import annotations

import os
import re
import time

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


def now_ms() -> int:
    return time.time_ns() // 1_000_000
