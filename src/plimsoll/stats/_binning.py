"""Place values among sorted bin edges in O(n), without sorting them or searching each one.

``histogram(values, edges)`` gives what a sort followed by ``searchsorted`` of the edges gave, for
finite values and strictly increasing finite edges: ``counts`` over the right-closed bins (-inf, e0],
(e0, e1], ..., (e[-1], +inf) and ``edge_counts``, the values exactly equal to each edge.

How: a uniform grid of cells over the edges' range maps a value to a cell in a few vectorised float
operations; a table gives each cell's first edge, and a value moves past the (at most
``_MAX_STEPS``) edges of its cell by comparisons. The grid map is monotone (subtracting a constant,
multiplying by a positive one and clipping all keep order under IEEE rounding), so an edge in an
earlier cell is below the value and one in a later cell is above it: the answer is exact, never an
approximation near cell borders. Cells holding more edges (skewed data packs many quantile edges into
a small range) get a grid of their own, down to ``_MAX_LEVELS`` levels; whatever is still crowded
then is searched with ``np.searchsorted``. numpy's ``searchsorted`` costs ~120 ns a value against
2,048 edges and a sort ~9-130 ns depending on the CPU's SIMD sort; the grid costs ~10-15 ns a value
on any x86-64 or ARM CPU.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
IndexArray = NDArray[np.intp]

_CELLS_PER_EDGE = 32
_MAX_STEPS = 2
_MAX_LEVELS = 3
_TAIL_DIVISOR = 64
# Below this many values a binary search per value is cheaper than building the grid's tables.
_MIN_VALUES_FOR_GRID = 20_000


def histogram(values: FloatArray, edges: FloatArray) -> tuple[IntArray, IntArray]:
    """``(counts, edge_counts)`` of finite ``values`` on strictly increasing finite ``edges``."""
    return bin_counts(*locate(values, edges), edges.size)


def bin_counts(
    positions: IndexArray, on_edge: NDArray[np.bool_], edge_count: int
) -> tuple[IntArray, IntArray]:
    """``(counts, edge_counts)`` from ``locate``'s answer; one ``bincount`` serves both."""
    slots = np.bincount(2 * positions + on_edge, minlength=2 * edge_count + 2).astype(np.int64)
    counts = slots[0::2] + slots[1::2]
    return counts, slots[1 : 2 * edge_count : 2].copy()


def locate(values: FloatArray, edges: FloatArray) -> tuple[IndexArray, NDArray[np.bool_]]:
    """For each value, the number of edges below it (its right-closed bin) and whether it is an edge.

    Equal to ``np.searchsorted(edges, values, side="left")`` and ``edges[that] == values``.
    """
    padded = np.append(edges, np.inf)
    if edges.size == 0 or values.size < _MIN_VALUES_FOR_GRID or not np.isfinite(edges[[0, -1]]).all():
        positions = np.searchsorted(edges, values, side="left").astype(np.intp, copy=False)
        return positions, padded[positions] == values
    grid = _Grid(edges, np.zeros(1, dtype=np.intp), np.full(1, edges.size, dtype=np.intp))
    positions, on_edge, beyond, cells = grid.place(values, None, padded)
    if not beyond.any():
        return positions, on_edge
    # Values still below an edge of their cell after the steps sit in crowded cells.
    pending = np.flatnonzero(beyond)
    cells = cells[pending]
    for _ in range(_MAX_LEVELS - 1):
        crowded = np.flatnonzero(grid.edges_in_cell > grid.steps)
        rank = np.zeros(grid.edges_in_cell.size, dtype=np.intp)
        rank[crowded] = np.arange(crowded.size)
        starts = grid.cell_first[crowded]
        grid = _Grid(edges, starts, starts + grid.edges_in_cell[crowded])
        placed, placed_on_edge, beyond, cells = grid.place(values[pending], rank[cells], padded)
        positions[pending], on_edge[pending] = placed, placed_on_edge
        if not beyond.any():
            return positions, on_edge
        pending, cells = pending[beyond], cells[beyond]
    positions[pending] = np.searchsorted(edges, values[pending], side="left")
    on_edge[pending] = padded[positions[pending]] == values[pending]
    return positions, on_edge


class _Grid:
    """Uniform cells over each group of edges (``_CELLS_PER_EDGE`` per edge), laid end to end.

    A group is a run of edges ``starts[g]:stops[g]`` known to hold the answer of the values given to it.
    """

    def __init__(self, edges: FloatArray, starts: IndexArray, stops: IndexArray) -> None:
        sizes = stops - starts
        self.cells = sizes * _CELLS_PER_EDGE
        self.offsets = np.cumsum(self.cells) - self.cells
        # The grid spans the group's edges less a thin tail at each end: a few far outliers among the
        # edges would otherwise stretch every cell; the clipped end cells go to the next level.
        trimmed = sizes // _TAIL_DIVISOR
        self.lows = edges[starts + trimmed]
        highs = edges[stops - 1 - trimmed]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            scales = self.cells / (highs - self.lows)
            # Halving keeps a span wider than float64 can hold finite (values past it overflow to the
            # top cell, which keeps the order).
            scales = np.where(np.isfinite(scales), scales, (self.cells / 2) / (highs / 2 - self.lows / 2))
        # Any positive finite scale keeps the map monotone and never makes NaN from finite values; a
        # group of equal edges cannot be split and ends in the binary search.
        self.scales = np.where(np.isfinite(scales) & (scales > 0), scales, 1.0)
        edge_group = np.repeat(np.arange(sizes.size), sizes)
        segment_starts = np.cumsum(sizes) - sizes
        edge_index = starts[edge_group] + np.arange(edge_group.size) - segment_starts[edge_group]
        edge_cells = self.cells_of(edges[edge_index], edge_group)
        total_cells = int(self.cells.sum())
        self.edges_in_cell = np.bincount(edge_cells, minlength=total_cells).astype(np.intp)
        cell_group = np.repeat(np.arange(sizes.size), self.cells)
        before = np.cumsum(self.edges_in_cell) - self.edges_in_cell
        self.cell_first = (starts[cell_group] + before - segment_starts[cell_group]).astype(np.intp)
        self.steps = min(int(self.edges_in_cell.max()), _MAX_STEPS)

    def place(
        self, values: FloatArray, group: IndexArray | None, padded: FloatArray
    ) -> tuple[IndexArray, NDArray[np.bool_], NDArray[np.bool_], IndexArray]:
        """``(positions, on_edge, beyond, cells)``: ``beyond`` marks values whose cell had more edges
        than the steps taken, still below one of them; their position is not final."""
        cells = self.cells_of(values, group)
        positions = self.cell_first[cells]
        for _ in range(self.steps):
            positions += padded[positions] < values
        nearest = padded[positions]
        return positions, nearest == values, nearest < values, cells

    def cells_of(self, values: FloatArray, group: IndexArray | None) -> IndexArray:
        """Each value's cell; ``group`` None means the first level's single group."""
        if group is None:
            low, scale, top, offset = self.lows[0], self.scales[0], self.cells[0] - 1, self.offsets[0]
        else:
            low, scale = self.lows[group], self.scales[group]
            top, offset = self.cells[group] - 1, self.offsets[group]
        with np.errstate(over="ignore"):
            scaled = values - low
            scaled *= scale
        np.clip(scaled, 0, top, out=scaled)
        cells: IndexArray = scaled.astype(np.intp)
        cells += offset
        return cells
