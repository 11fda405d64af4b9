"""Plain-text renderings the templates use: times (ms since epoch, shown in UTC), durations,
numbers and sizes. Pure functions, registered as Jinja filters."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime

from plimsoll.core.formatting import format_duration_ms

DASH = "—"


def timestamp(ms: int | None) -> str:
    """`2025-06-01 12:34:56 UTC` for milliseconds since the epoch."""
    if ms is None:
        return DASH
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def short_timestamp(ms: int | None) -> str:
    """`06-01 12:34:56` (UTC), for tables with several times a row; the full form in a tooltip."""
    if ms is None:
        return DASH
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%m-%d %H:%M:%S")


def iso_timestamp(ms: int | None) -> str:
    """The machine-readable form for `<time datetime=...>`."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def duration(start: int | None, end: int | None, *, now_ms: int | None = None) -> str:
    """`4.2 s`, `3 m 05 s`, `2 h 07 m`; a run still running is measured up to now."""
    if start is None:
        return DASH
    stop = end if end is not None else (now_ms if now_ms is not None else time.time_ns() // 1_000_000)
    return format_duration_ms(stop - start)


def number(value: float | int | str | None) -> str:
    """Six significant digits; NaN and the infinities spelled out."""
    if value is None:
        return DASH
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude >= 1e6 or magnitude < 1e-4):
        return f"{value:.4e}"
    return f"{value:.6g}"


def count(value: int | None) -> str:
    """A count of things, grouped by thousands: `8,232`."""
    return DASH if value is None else f"{value:,}"


def filesize(size: int) -> str:
    """`512 B`, `1.5 KiB`, `3.2 GiB`."""
    value = float(size)
    units = ("B", "KiB", "MiB", "GiB", "TiB")
    for unit in units[:-1]:
        if value < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} {units[-1]}"


_EXPIRY_UNITS = ((86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"))


def expiry(ms: int | None, *, now_ms: int | None = None) -> str:
    """`in 3 days`, `in 5 hours`, `expired`; `never` when there is no expiry."""
    if ms is None:
        return "never"
    now = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    left = ms - now
    if left <= 0:
        return "expired"
    for unit_ms, unit in _EXPIRY_UNITS:
        if left >= unit_ms:
            # rounded, not truncated: a token made "for 3 days" a moment ago reads "in 3 days"
            count = round(left / unit_ms)
            return f"in {count} {unit}{'' if count == 1 else 's'}"
    return "in less than a minute"
