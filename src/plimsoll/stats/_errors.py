"""The statistics engine's errors: one type per problem, under ``PlimsollStatsError``.

``PlimsollStatsError`` is a ``ValueError`` and an ``InvalidParameter`` of Plimsoll's error tree:
every problem it reports is a problem with the input (a column, a field, a parameter), its message
names that thing and the limit it broke, its ``field`` names the parameter (``alpha``, ``data``...)
or the column (``columns.<name>``), and its ``limit`` states the limit where there is one. Each
problem has its own subclass and error code, so a route that calls the engine answers 400 with a
code a client can branch on, never 500. They are defined in the dependency-free
``plimsoll.errors``, the one module of Plimsoll outside ``plimsoll.stats`` this package imports.
"""

from __future__ import annotations

from plimsoll.errors import (
    PlimsollStatsError,
    StatsCorruptSummary,
    StatsKindMismatch,
    StatsNotEnoughData,
    StatsOutOfRange,
    StatsShapeMismatch,
    StatsUnknownName,
    StatsUnreadableValues,
)

__all__ = [
    "PlimsollStatsError",
    "StatsCorruptSummary",
    "StatsKindMismatch",
    "StatsNotEnoughData",
    "StatsOutOfRange",
    "StatsShapeMismatch",
    "StatsUnknownName",
    "StatsUnreadableValues",
]
