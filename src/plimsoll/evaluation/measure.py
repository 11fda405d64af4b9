"""Latency and cost measured where the model runs (the SDK calls these; nothing on the server
times anything). They are measurements of the machine they run on: a test of a gate gives a
`Latency` or `Cost` of its own rather than timing the machine that runs the test."""

from __future__ import annotations

import pickle
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_int
from plimsoll.evaluation.entities import Cost, Latency

Clock = Callable[[], float]


def measure_latency(
    predict: Callable[[Any], Any],
    rows: Any,
    *,
    single: int = 100,
    batch_size: int = 1000,
    batches: int = 20,
    clock: Clock = time.perf_counter,
) -> Latency:
    """Call `predict` on `single` rows one at a time, then on `batches` batches of `batch_size`
    rows (taken in turn from `rows`, a pandas DataFrame or an array), and report the median and
    99th percentile of each in milliseconds."""
    check_int("single", single, minimum=1, maximum=100_000)
    check_int("batch_size", batch_size, minimum=1)
    check_int("batches", batches, minimum=1, maximum=100_000)
    total = len(rows)
    if total == 0:
        raise InvalidParameter("rows", "is empty: latency needs rows to predict")
    take = rows.iloc if hasattr(rows, "iloc") else rows

    def timed(start: int, stop: int) -> float:
        chosen = take[start:stop] if stop <= total else _wrapped(rows, start, stop)
        began = clock()
        predict(chosen)
        return (clock() - began) * 1000.0

    alone = [timed(i % total, i % total + 1) for i in range(single)]
    size = min(batch_size, total)
    grouped = [timed((i * size) % total, (i * size) % total + size) for i in range(batches)]
    p50, p99 = np.percentile(alone, [50, 99])
    b50, b99 = np.percentile(grouped, [50, 99])
    return Latency(float(p50), float(p99), float(b50), float(b99), size)


def _wrapped(rows: Any, start: int, stop: int) -> Any:
    import pandas as pd

    total = len(rows)
    index = np.arange(start, stop) % total
    if isinstance(rows, pd.DataFrame):
        return rows.iloc[index]
    return np.asarray(rows)[index]


def model_bytes(model: Any) -> int | None:
    """The model's size as pickled (None for what pickle cannot write, such as a lambda)."""
    try:
        return len(pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))
    except (pickle.PicklingError, TypeError, AttributeError):
        return None


def priced(
    cost: Cost, *, price_per_1000: float | None = None, price_per_cpu_hour: float | None = None
) -> Cost:
    """`cost` with its price per 1,000 predictions: given as such, or from a price per CPU-hour
    and the CPU-seconds 1,000 predictions took."""
    if price_per_1000 is not None and price_per_cpu_hour is not None:
        raise InvalidParameter(
            "price_per_cpu_hour", "give either a price per 1,000 predictions or per CPU-hour"
        )
    if price_per_cpu_hour is not None:
        per_1000 = cost.cpu_seconds_per_1000
        if per_1000 is None:
            raise InvalidParameter(
                "price_per_cpu_hour", "needs the CPU-seconds and the predictions they took (measure the cost)"
            )
        price_per_1000 = per_1000 * float(price_per_cpu_hour) / 3600.0
    if price_per_1000 is None:
        return cost
    return Cost(cost.model_bytes, cost.cpu_seconds, cost.predictions, float(price_per_1000))
