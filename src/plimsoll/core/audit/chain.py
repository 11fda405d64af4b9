"""The hash chain itself: how an event's hash is computed from the one before it.

Each hash covers the previous event's hash and the event's canonical JSON, so a change to any event
changes every hash after it. Anyone can compute these hashes: the chain alone shows that events
were changed only to someone who kept a later hash elsewhere. The key ring (`keys.py`) and the
signed checkpoints make the chain prove something to the server itself.
"""

from __future__ import annotations

from typing import Any

import orjson
from blake3 import blake3

GENESIS_HASH = "0" * 64

# The stored columns an event's hash covers, in the order of the table.
HASHED_COLUMNS = ("ts", "actor", "action", "resource_type", "resource_id", "project", "before", "after")


def digest(prev_hash: str, body: dict[str, Any]) -> str:
    return blake3(prev_hash.encode() + orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def body_of(row: Any) -> dict[str, Any]:
    """The hashed part of a stored event (`before` and `after` as their stored JSON text)."""
    return {column: getattr(row, column) for column in HASHED_COLUMNS}
