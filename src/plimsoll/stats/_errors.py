"""The one error type of the statistics engine.

``PlimsollStatsError`` is a ``ValueError``: every problem it reports is a problem with the input
(a column, a field, a parameter), and its message names that thing and the limit it broke.
"""

from __future__ import annotations


class PlimsollStatsError(ValueError):
    """Bad input to a statistics function: the message names the column or field and the limit."""
