"""Page tokens of a run search: opaque, tied to the search they continue, and checked on the way in.

Tokens are not signed: a forged one can only change where a page starts (its values become bound
parameters, type-checked against the sort keys).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from plimsoll.core.errors import InvalidParameter

MAX_CURSOR_LENGTH = 8_192


def search_fingerprint(
    experiment_ids: Sequence[str] | None,
    filter_text: str | None,
    order_by: Sequence[str] | None,
    include_deleted: bool = False,
    project: str | None = None,
) -> str:
    """A short hash of what defines a search, so that a page token only continues its own search."""
    identity = [
        sorted(experiment_ids) if experiment_ids is not None else None,
        filter_text or "",
        list(order_by or ()),
        include_deleted,
        *([project] if project is not None else []),
    ]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def encode_cursor(values: Sequence[Any], last_run_id: str, fingerprint: str) -> str:
    """An opaque page token: urlsafe base64 of JSON {f: fingerprint, v: sort values, id: last run id}."""
    body = json.dumps({"f": fingerprint, "v": list(values), "id": last_run_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[list[Any], str]:
    """(sort values, last run id) from a page token made by `encode_cursor` for the same search."""
    invalid = InvalidParameter("page_token", "is not a page token from a previous search; omit it to start")
    if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_LENGTH:
        raise invalid
    try:
        body = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid from None
    if not (
        isinstance(body, dict)
        and isinstance(body.get("id"), str)
        and isinstance(body.get("v"), list)
        and all(
            v is None or (isinstance(v, str | int | float) and not isinstance(v, bool)) for v in body["v"]
        )
    ):
        raise invalid
    if body.get("f") != fingerprint:
        raise InvalidParameter(
            "page_token",
            "belongs to a different search (filter, order_by or experiment ids changed); omit it to start again",
        )
    return list(body["v"]), str(body["id"])
