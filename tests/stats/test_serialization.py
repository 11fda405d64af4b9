from __future__ import annotations

import struct
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from plimsoll import stats
from plimsoll.stats import CategoricalSummary, NumericSummary, PlimsollStatsError, TableSummary


def _table() -> TableSummary:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "x": np.where(rng.random(5000) < 0.1, np.nan, rng.normal(size=5000)),
            "c": rng.choice([f"k{i}" for i in range(40)], 5000),
        }
    )
    return stats.summarize(frame, max_categories=10)


def test_round_trip_preserves_every_field() -> None:
    table = _table()
    data = stats.to_bytes(table)
    back = stats.from_bytes(data)
    assert isinstance(back, TableSummary) and list(back) == list(table)
    x, x_back = table["x"], back["x"]
    assert isinstance(x, NumericSummary) and isinstance(x_back, NumericSummary)
    assert (x_back.mean, x_back.nan_count, x_back.sum_squared_deviations) == (
        x.mean,
        x.nan_count,
        x.sum_squared_deviations,
    )
    assert np.array_equal(x_back.edges, x.edges) and np.array_equal(x_back.counts, x.counts)
    c, c_back = table["c"], back["c"]
    assert isinstance(c, CategoricalSummary) and isinstance(c_back, CategoricalSummary)
    assert c_back.as_dict() == c.as_dict() and c_back.other_count == c.other_count
    assert c.registers is not None and c_back.registers is not None
    assert np.array_equal(c.registers, c_back.registers)
    assert stats.compare(back, back).drifted is False


def test_column_summaries_round_trip_and_bytes_are_compact() -> None:
    column = stats.summarize_column(np.arange(100_000.0))
    data = stats.to_bytes(column)
    assert len(data) < 40_000
    back = stats.from_bytes(data)
    assert isinstance(back, NumericSummary) and back.counts.tolist() == column.counts.tolist()  # type: ignore[union-attr]


def test_unknown_version_foreign_and_corrupt_bytes_are_refused() -> None:
    data = stats.to_bytes(_table())
    future = data[:4] + struct.pack("<H", stats.FORMAT_VERSION + 1) + data[6:]
    with pytest.raises(PlimsollStatsError, match=r"format version 2 is not supported.*reads version 1"):
        stats.from_bytes(future)
    with pytest.raises(PlimsollStatsError, match="expected to start with"):
        stats.from_bytes(b"JUNK" + data[4:])
    with pytest.raises(PlimsollStatsError, match="corrupt"):
        stats.from_bytes(data[:20])
    with pytest.raises(PlimsollStatsError, match="at least 6 bytes"):
        stats.from_bytes(b"PL")


@pytest.mark.parametrize(
    ("counts", "why"),
    [(np.array([3.5, 1.0, 0.0]), "not whole numbers"), (np.array([-200, 5, 0]), "negative")],
)
def test_bytes_whose_counts_are_not_counts_are_refused(counts: np.ndarray, why: str) -> None:
    """Counts are kept in the narrowest integer that holds them: a float or a negative count in
    stored bytes would be cut or wrap around silently, so the bytes are refused instead."""
    summary = stats.summarize_column(np.arange(3.0), max_bins=2)
    assert isinstance(summary, NumericSummary)
    forged = replace(summary)
    object.__setattr__(forged, "counts", counts)  # past the constructor: what a crafted upload holds
    object.__setattr__(forged, "edge_counts", counts[:-1])
    with pytest.raises(PlimsollStatsError, match="counts must be counts"):
        stats.from_bytes(stats.to_bytes(forged))
