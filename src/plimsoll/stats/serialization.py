"""Compact, versioned bytes for summaries.

Layout: ``b"PLSM"``, a little-endian uint16 format version, then a zlib stream holding a uint32 header
length, a JSON header (scalars, labels, and for each array its dtype and length), and the raw
little-endian arrays in header order. Bytes with another magic or an unknown version are refused.
Non-finite floats (a sum of squares that overflowed float64) are written as the strings ``"inf"``,
``"-inf"`` and ``"nan"``, since JSON has no such numbers. A header missing a field, or holding one of
the wrong type, is refused as corrupt with the field named.
"""

from __future__ import annotations

import json
import struct
import threading
import zlib
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plimsoll.stats._errors import StatsCorruptSummary
from plimsoll.stats.summaries import CategoricalSummary, ColumnSummary, NumericSummary, TableSummary

MAGIC = b"PLSM"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<4sH")
_NUMERIC_FIELDS = (
    "row_count", "null_count", "nan_count", "posinf_count", "neginf_count",
    "minimum", "maximum", "mean", "sum_squared_deviations", "rebin_error",
)  # fmt: skip
# Edges read back are shared by every summary that has the same ones (the windows of one monitor
# all carry their reference's edges), so that a merge sees one array (`is`) instead of comparing
# 2,048 floats per window; read-only, since they are shared. Bounded: edges of long-gone
# references are let go.
_SHARED_EDGES: dict[bytes, NDArray[np.float64]] = {}
_SHARED_EDGES_LIMIT = 256
_shared_edges_lock = threading.Lock()


def _shared_edges(edges: NDArray[Any]) -> NDArray[np.float64]:
    key = edges.tobytes() + edges.dtype.str.encode()
    with _shared_edges_lock:
        shared = _SHARED_EDGES.get(key)
        if shared is None:
            if len(_SHARED_EDGES) >= _SHARED_EDGES_LIMIT:
                _SHARED_EDGES.clear()
            shared = edges.astype(np.float64)
            shared.flags.writeable = False
            _SHARED_EDGES[key] = shared
        return shared


def to_bytes(summary: TableSummary | ColumnSummary) -> bytes:
    """Serialise a table or column summary."""
    arrays: list[NDArray[Any]] = []
    if isinstance(summary, TableSummary):
        header: dict[str, Any] = {
            "kind": "table",
            "row_count": summary.row_count,
            "columns": [[name, _column_header(col, arrays)] for name, col in summary.columns.items()],
        }
    else:
        header = _column_header(summary, arrays)
    header_bytes = json.dumps(header, separators=(",", ":"), allow_nan=False).encode()
    body = b"".join([struct.pack("<I", len(header_bytes)), header_bytes, *(a.tobytes() for a in arrays)])
    return _PREFIX.pack(MAGIC, FORMAT_VERSION) + zlib.compress(body, 6)


def from_bytes(data: bytes) -> TableSummary | ColumnSummary:
    """Read bytes written by ``to_bytes``; refuses foreign or unknown-version bytes."""
    if len(data) < _PREFIX.size:
        raise StatsCorruptSummary(
            f"summary bytes: need at least {_PREFIX.size} bytes, got {len(data)}", field="data"
        )
    magic, version = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise StatsCorruptSummary(
            f"summary bytes: expected to start with {MAGIC!r}, got {magic!r}", field="data"
        )
    if version != FORMAT_VERSION:
        raise StatsCorruptSummary(
            f"summary bytes: format version {version} is not supported; this Plimsoll reads version "
            f"{FORMAT_VERSION}",
            field="data",
        )
    try:
        body = zlib.decompress(data[_PREFIX.size :])
        (header_length,) = struct.unpack_from("<I", body)
        header = json.loads(body[4 : 4 + header_length])
    except (zlib.error, struct.error, ValueError) as error:
        raise StatsCorruptSummary(f"summary bytes: corrupt payload ({error})", field="data") from None
    reader = _ArrayReader(body, 4 + header_length)
    try:
        if header.get("kind") == "table":
            columns = {name: _column_from_header(column, reader) for name, column in header["columns"]}
            return TableSummary(int(header["row_count"]), columns)
        return _column_from_header(header, reader)
    except KeyError as error:
        raise StatsCorruptSummary(
            f"summary bytes: corrupt header, field {error.args[0]!r} is missing", field="data"
        ) from None
    except (TypeError, ValueError, AttributeError, IndexError) as error:
        raise StatsCorruptSummary(f"summary bytes: corrupt header ({error})", field="data") from None


def _column_header(summary: ColumnSummary, arrays: list[NDArray[Any]]) -> dict[str, Any]:
    if isinstance(summary, NumericSummary):
        fields = {name: _encode_float(getattr(summary, name)) for name in _NUMERIC_FIELDS}
        return {
            "kind": "numeric",
            **fields,
            "arrays": _add(arrays, summary.edges, summary.counts, summary.edge_counts),
        }
    extra = [] if summary.registers is None else [summary.registers]
    return {
        "kind": "categorical",
        "row_count": summary.row_count,
        "null_count": summary.null_count,
        "categories": list(summary.categories),
        "other_count": summary.other_count,
        "count_error": summary.count_error,
        "arrays": _add(arrays, summary.counts, *extra),
    }


def _encode_float(value: Any) -> Any:
    if isinstance(value, float) and not np.isfinite(value):
        return str(value)  # "inf", "-inf" or "nan"
    return value


def _decode_float(value: Any) -> Any:
    if isinstance(value, str):
        if value not in ("inf", "-inf", "nan"):
            raise ValueError(f"expected a number, got {value!r}")
        return float(value)
    return value


def _add(arrays: list[NDArray[Any]], *new: NDArray[Any]) -> list[list[Any]]:
    described = []
    for array in new:
        little = array.astype(array.dtype.newbyteorder("<"), copy=False)
        arrays.append(little)
        described.append([little.dtype.str, int(little.size)])
    return described


class _ArrayReader:
    def __init__(self, body: bytes, offset: int) -> None:
        self._body = body
        self._offset = offset

    def read(self, dtype: str, size: int) -> NDArray[Any]:
        kind = np.dtype(dtype)
        end = self._offset + kind.itemsize * size
        if end > len(self._body):
            raise StatsCorruptSummary("summary bytes: truncated array data", field="data")
        array = np.frombuffer(self._body, dtype=kind, count=size, offset=self._offset).copy()
        self._offset = end
        return array


def _counts(array: NDArray[Any], name: str) -> NDArray[Any]:
    """Histogram counts as stored: whole numbers from 0 up, or the bytes are not a summary's."""
    if array.dtype.kind not in "iu" or (
        array.size and (array.min() < 0 or array.max() > np.iinfo(np.int64).max)
    ):
        raise StatsCorruptSummary(
            f"summary bytes: {name} must be counts (whole numbers from 0)", field="data"
        )
    return array


def _column_from_header(header: dict[str, Any], reader: _ArrayReader) -> ColumnSummary:
    arrays = [reader.read(dtype, size) for dtype, size in header["arrays"]]
    if header["kind"] == "numeric":
        fields = {name: _decode_float(header[name]) for name in _NUMERIC_FIELDS}
        return NumericSummary(
            **fields,
            edges=_shared_edges(arrays[0]),
            counts=_counts(arrays[1], "counts"),
            edge_counts=_counts(arrays[2], "edge_counts"),
        )
    if header["kind"] == "categorical":
        return CategoricalSummary(
            row_count=int(header["row_count"]),
            null_count=int(header["null_count"]),
            categories=tuple(header["categories"]),
            counts=arrays[0].astype(np.int64),
            other_count=int(header["other_count"]),
            count_error=int(header["count_error"]),
            registers=arrays[1] if len(arrays) > 1 else None,
        )
    raise StatsCorruptSummary(f"summary bytes: unknown summary kind {header['kind']!r}", field="data")
