"""Signing deliveries, and checking a signature on the receiving side.

Each delivery carries `X-Plimsoll-Timestamp` (unix seconds) and `X-Plimsoll-Signature:
sha256=<hex>`, the HMAC-SHA256 of `f"{timestamp}.".encode() + body` keyed by the subscription's
secret (the whole `whsec_…` string, UTF-8). The timestamp is inside the signed bytes, so a
receiver that refuses old timestamps (five minutes is the documented window) cannot be sent a
captured delivery again later.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
REPLAY_WINDOW_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)  # 256 random bits


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Plimsoll-Signature` header's value."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify_signature(
    secret: str,
    timestamp: str | int,
    body: bytes,
    signature: str,
    *,
    now: float,
    window_s: float = REPLAY_WINDOW_S,
) -> bool:
    """True if `signature` (the `X-Plimsoll-Signature` header) signs `body` at `timestamp` (the
    `X-Plimsoll-Timestamp` header) with `secret`, and the timestamp is within `window_s` seconds of
    `now` (unix seconds, e.g. `time.time()`). Compared in constant time."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(now - stamp) > window_s:
        return False
    return hmac.compare_digest(sign(secret, stamp, body), signature)
