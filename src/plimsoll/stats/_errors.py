"""The one error type of the statistics engine.

``PlimsollStatsError`` is a ``ValueError`` and an ``InvalidParameter`` of Plimsoll's error tree:
every problem it reports is a problem with the input (a column, a field, a parameter), its message
names that thing and the limit it broke, and its ``field`` names the parameter (``alpha``,
``data``...) or the column (``columns.<name>``). It is defined in the dependency-free
``plimsoll.errors``, the one module of Plimsoll outside ``plimsoll.stats`` this package imports.
"""

from __future__ import annotations

from plimsoll.errors import PlimsollStatsError

__all__ = ["PlimsollStatsError"]
