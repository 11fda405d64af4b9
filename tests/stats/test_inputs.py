"""Dates and times in any unit, moments that overflow float64, and corrupt summary headers."""

from __future__ import annotations

import datetime as dt
import json
import struct
import zlib

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from plimsoll import stats
from plimsoll.stats import CategoricalSummary, PlimsollStatsError
from plimsoll.stats.summaries import NumericSummary

INSTANTS = np.array(["2015-01-01T00:00:00", "2015-03-02T10:30:00", "2015-07-01T23:59:59"] * 50)


def test_datetime_units_do_not_matter() -> None:
    seconds, nanos = INSTANTS.astype("datetime64[s]"), INSTANTS.astype("datetime64[ns]")
    result = stats.drift_test(seconds, nanos)
    assert result.statistic == 0.0 and not result.drifted
    ref = stats.summarize_column(seconds)
    cur = stats.summarize_column(nanos, reference=ref)
    assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
    assert ref.minimum == cur.minimum == float(np.datetime64("2015-01-01", "ns").view(np.int64))
    day = np.timedelta64(1, "D")
    assert (
        stats.summarize_column(np.array([day])).minimum
        == stats.summarize_column(  # type: ignore[union-attr]
            np.array([day.astype("timedelta64[ns]")])
        ).minimum
    )


def test_dates_from_arrow_polars_and_pandas_objects_are_temporal() -> None:
    days = [dt.date(2015, 1, 1), dt.date(2015, 1, 2), None]
    expected = float(np.datetime64("2015-01-01", "ns").view(np.int64))
    for column in (
        pa.array(days, pa.date32()),
        pa.array(days, pa.date64()),
        pl.Series(days, dtype=pl.Date),
        pd.Series(days, dtype=object),
        pd.Series([dt.datetime(2015, 1, 1), None], dtype=object),
    ):
        summary = stats.summarize_column(column)
        assert isinstance(summary, NumericSummary), type(column)
        assert summary.minimum == expected and summary.null_count == 1
    durations = stats.summarize_column(pd.Series([dt.timedelta(seconds=1), None], dtype=object))
    assert isinstance(durations, NumericSummary) and durations.minimum == 1e9


def test_moments_that_overflow_leave_the_column_untested() -> None:
    rng = np.random.default_rng(0)
    huge = pd.DataFrame({"x": rng.uniform(-1, 1, 500) * 1.7e308, "ok": rng.normal(size=500)})
    other = pd.DataFrame({"x": rng.uniform(-1, 1, 500) * 1.7e308, "ok": rng.normal(size=500)})
    ref = stats.summarize(huge)
    column = ref["x"]
    assert isinstance(column, NumericSummary) and column.mean is not None and np.isfinite(column.mean)
    assert not column.moments_finite
    report = stats.compare(ref, stats.summarize(other, reference=ref), min_effect={"x": 0.0})
    assert "x" in report.untested and "overflows float64" in report.untested["x"]
    assert "x" not in report.columns
    for method in ("wasserstein", "energy", "ks"):
        with pytest.raises(PlimsollStatsError, match="overflows float64"):
            stats.drift_test(huge["x"], other["x"], method=method)
    back = stats.from_bytes(stats.to_bytes(ref))
    assert isinstance(back, stats.TableSummary) and back["x"].sum_squared_deviations == np.inf  # type: ignore[union-attr]
    json.dumps(report.to_dict(), allow_nan=False)


def test_a_header_missing_a_field_is_refused_naming_it() -> None:
    data = stats.to_bytes(stats.summarize_column(np.arange(10.0)))
    body = zlib.decompress(data[6:])
    (length,) = struct.unpack_from("<I", body)
    header = json.loads(body[4 : 4 + length])
    del header["null_count"]
    new_header = json.dumps(header).encode()
    payload = struct.pack("<I", len(new_header)) + new_header + body[4 + length :]
    with pytest.raises(PlimsollStatsError, match="field 'null_count' is missing"):
        stats.from_bytes(data[:6] + zlib.compress(payload))


def test_object_strings_count_like_arrow_strings_with_every_kind_of_null() -> None:
    labels = ["b", None, "a", np.nan, "b", pd.NA, ""]
    from_objects = stats.summarize_column(pd.Series(labels, dtype=object))
    from_arrow = stats.summarize_column(pa.array(["b", None, "a", None, "b", None, ""]))
    assert isinstance(from_objects, CategoricalSummary) and isinstance(from_arrow, CategoricalSummary)
    assert from_objects.as_dict() == from_arrow.as_dict() == {"b": 2, "a": 1, "": 1}
    assert from_objects.null_count == from_arrow.null_count == 3
    # A lone surrogate is not valid UTF-8, so Arrow refuses it; the label is still counted as it is.
    odd = stats.summarize_column(pd.Series(["x\ud800", "a", "x\ud800"], dtype=object))
    assert isinstance(odd, CategoricalSummary) and odd.as_dict() == {"x\ud800": 2, "a": 1}
