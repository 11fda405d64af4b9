"""How people read numbers of ours: durations in the CLI and the web UI alike."""

from __future__ import annotations


def format_duration_ms(millis: int) -> str:
    """`850 ms`, `4.2 s`, `3 m 05 s`, `2 h 07 m`, `3 d 04 h`."""
    millis = max(millis, 0)
    if millis < 1000:
        return f"{millis} ms"
    seconds = millis / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} m"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"
