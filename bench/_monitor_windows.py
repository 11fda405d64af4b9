"""bench/monitoring.py's sections (b) and (c): a monitor over logged predictions, and one more window.

(b) N million predictions x 20 features (15 numeric, 5 categorical) logged over D days, drifting
    more each day; a daily monitor computes every window from the Parquet segments to its stored
    results (summary, drift, data quality, estimated performance, rules, events): time and peak
    memory. Evidently (DataDriftPreset, its own venv: bench/requirements-drift.txt) computes the
    same daily windows from the same Parquet files against the same reference, in a subprocess.
(c) a monitor with 365 daily windows stored gets one more day of traffic: the time `run_monitor`
    takes to add that one window (it must not reread the others).

Each side reports time to results and peak resident memory above what the process held before it
started (sampled every 5 ms), and the machine's floor: reading the same Parquet bytes back
(`cp`-like: the files' bytes read once) and numpy's sort of a million floats.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
DAY_MS = 86_400_000
START = 1_767_225_600_000  # 2026-01-01 UTC
NUMERIC, CATEGORICAL = 15, 5
FEATURES = [f"num_{i}" for i in range(NUMERIC)] + [f"cat_{i}" for i in range(CATEGORICAL)]
EVIDENTLY_VENV = REPO / ".venv-bench-drift" / "bin" / "python"


class PeakMemory:
    """Peak resident set size above the starting one, sampled every 5 ms from /proc."""

    def __init__(self) -> None:
        self.base = _rss()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())

    @property
    def extra_mb(self) -> float:
        return (self.peak - self.base) / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def frame(rows: int, seed: int, shift: float) -> pd.DataFrame:
    """20 features; `shift` moves a third of the numeric ones and one category's frequencies."""
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for i in range(NUMERIC):
        moved = shift if i % 3 == 0 else 0.0
        data[f"num_{i}"] = rng.normal(moved, 1.0 + i % 4, rows) if i % 2 else rng.lognormal(moved, 0.7, rows)
    for i in range(CATEGORICAL):
        labels = np.array([f"c{i}_{k}" for k in range(4 + 6 * i)])
        weights = np.linspace(1.0, 2.0 + (shift * 8 if i == 0 else 0.0), labels.size)
        data[f"cat_{i}"] = labels[rng.choice(labels.size, rows, p=weights / weights.sum())]
    return pd.DataFrame(data)


def _scores(data: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    logit = 0.8 * data["num_1"].to_numpy() - 0.5 * data["num_3"].to_numpy() + rng.normal(0, 0.5, len(data))
    score = 1 / (1 + np.exp(-logit))
    return score, (score >= 0.5).astype(np.int64)


def setup(home: Path, *, days: int, rows_per_day: int, reference_rows: int = 100_000) -> tuple[Any, float]:
    """A platform with a model alias, its reference dataset and `days` of logged traffic; the
    seconds logging took (through the service, in batches of up to a million rows)."""
    from plimsoll.client import Client
    from plimsoll.core.config import Settings

    client = Client(settings=Settings.from_env().with_overrides(home=home))
    platform = client.platform
    with client.start_run(experiment="bench", capture=False) as active:
        active.log_text("a model", "model/weights.txt")
    client.registry.register("bench", run_id=active.id, artifact_path="model")
    client.registry.set_alias("bench", "production", 1)
    reference = frame(reference_rows, 1, 0.0)
    score, prediction = _scores(reference, 1)
    reference["score"], reference["prediction"] = score, prediction
    reference["target"] = (np.random.default_rng(9).random(reference_rows) < score).astype(np.int64)
    client.datasets.register("bench-reference", reference)
    monitoring = platform.service("monitoring")
    started = time.perf_counter()
    for day in range(days):
        data = frame(rows_per_day, 100 + day, shift=0.3 * day / max(days - 1, 1))
        score, prediction = _scores(data, 100 + day)
        times = START + day * DAY_MS + np.linspace(0, DAY_MS - 1, rows_per_day).astype(np.int64)
        for at in range(0, rows_per_day, 1_000_000):
            part = slice(at, min(at + 1_000_000, rows_per_day))
            table = pa.Table.from_pandas(data.iloc[part], preserve_index=False)
            table = table.append_column("__score", pa.array(score[part]))
            table = table.add_column(0, "__prediction", pa.array(prediction[part]))
            table = table.add_column(0, "__ts", pa.array(times[part]))
            ids = pa.array([f"d{day}-{i}" for i in range(part.start, part.stop)])
            table = table.add_column(0, "__id", ids)
            monitoring.log("predictions", table, model="bench@production", actor="bench")
    return platform, time.perf_counter() - started


def plimsoll_windows(platform: Any, days: int) -> dict[str, Any]:
    # The libraries imported before the clock starts, as Evidently's side imports its own (and
    # SciPy, pandas) before its clock: importing SciPy's statistics costs ~0.9 s once a process.
    import sklearn.metrics  # noqa: F401

    import plimsoll.monitoring.windows  # noqa: F401

    monitoring = platform.service("monitoring")
    reference = {
        "kind": "dataset",
        "dataset": "bench-reference@1",
        "target": "target",
        "prediction": "prediction",
        "score": "score",
    }
    with PeakMemory() as memory:
        started = time.perf_counter()
        monitoring.create_monitor(
            "bench", "bench@production", reference, features=FEATURES, every="1d", start=START, actor="bench"
        )
        created = time.perf_counter() - started
        windows = monitoring.backfill("bench", START, START + days * DAY_MS, actor="bench")
        seconds = time.perf_counter() - started
    drifted = sum(1 for w in windows if w.drift.get("detected"))
    return {
        "seconds": seconds,
        "reference_s": created,
        "extra_mb": memory.extra_mb,
        "windows": len(windows),
        "drifted_windows": drifted,
        "rows": sum(w.rows for w in windows),
    }


def segment_files(platform: Any, days: int) -> dict[int, list[str]]:
    monitoring = platform.service("monitoring")
    found = monitoring.segments("predictions", model="bench", since=START, until=START + days * DAY_MS)
    by_day: dict[int, list[str]] = {}
    for segment in found:
        path = platform.blobs.readable_at(segment.digest)[1]
        by_day.setdefault(segment.day, []).append(str(path))
    return by_day


_EVIDENTLY = r"""
import json, sys, time, threading, os
import pandas as pd, pyarrow.parquet as pq
from evidently import Report
from evidently.presets import DataDriftPreset
spec = json.load(open(sys.argv[1]))
def rss():
    return int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
reference = pd.read_parquet(spec["reference"])[spec["features"]]
base, peak, stop = rss(), [rss()], threading.Event()
def watch():
    while not stop.wait(0.005): peak[0] = max(peak[0], rss())
threading.Thread(target=watch, daemon=True).start()
started = time.perf_counter(); drifted = 0
for paths in spec["days"]:
    current = pd.concat([pq.read_table(p, columns=spec["features"]).to_pandas() for p in paths])
    result = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference).dict()
    drifted += any("DriftedColumnsCount" in str(m.get("metric_name", "")) and m["value"]["count"] > 0 for m in result["metrics"])
seconds = time.perf_counter() - started; stop.set()
print(json.dumps({"seconds": seconds, "extra_mb": (max(peak[0], rss()) - base) / 2**20, "drifted_windows": drifted}))
"""


def evidently_windows(platform: Any, days: int, work: Path) -> dict[str, Any] | str:
    if not EVIDENTLY_VENV.exists():
        return "skipped: no .venv-bench-drift (bench/requirements-drift.txt)"
    reference = platform.service("data").read_table("bench-reference", 1)
    ref_path = work / "reference.parquet"
    import pyarrow.parquet as pq

    pq.write_table(reference, ref_path)
    by_day = segment_files(platform, days)
    spec = {"reference": str(ref_path), "features": FEATURES, "days": [by_day[d] for d in sorted(by_day)]}
    (work / "spec.json").write_text(json.dumps(spec))
    (work / "evidently_windows.py").write_text(_EVIDENTLY)
    answer = subprocess.run(
        [str(EVIDENTLY_VENV), str(work / "evidently_windows.py"), str(work / "spec.json")],
        capture_output=True,
        text=True,
        check=False,
    )
    if answer.returncode != 0:
        return f"failed: {answer.stderr.strip().splitlines()[-1] if answer.stderr else answer.returncode}"
    return dict(json.loads(answer.stdout.strip().splitlines()[-1]))


def floors(platform: Any, days: int) -> dict[str, float]:
    """Reading every segment's bytes once (what any tool must at least do), and a 1M-float sort."""
    paths = [p for ps in segment_files(platform, days).values() for p in ps]
    started = time.perf_counter()
    total = 0
    for path in paths:
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                total += len(chunk)
    read_s = time.perf_counter() - started
    values = np.random.default_rng(0).random(1_000_000)
    started = time.perf_counter()
    np.sort(values)
    return {"segments_mb": total / 2**20, "read_s": read_s, "sort_1m_s": time.perf_counter() - started}


def add_one_window(home: Path, *, rows_per_day: int) -> dict[str, Any]:
    """(c): 365 daily windows stored, one more day logged; the time to add its window."""
    platform, _ = setup(home, days=366, rows_per_day=rows_per_day, reference_rows=20_000)
    monitoring = platform.service("monitoring")
    reference = {
        "kind": "dataset",
        "dataset": "bench-reference@1",
        "target": "target",
        "prediction": "prediction",
        "score": "score",
    }
    monitoring.create_monitor(
        "year", "bench@production", reference, features=FEATURES, every="1d", start=START, actor="bench"
    )
    started = time.perf_counter()
    monitoring.backfill("year", START, START + 365 * DAY_MS, actor="bench")
    backfill_s = time.perf_counter() - started
    monitoring.clock = lambda: START + 366 * DAY_MS + 1
    times = []
    started = time.perf_counter()
    added = monitoring.run_monitor("year", actor="bench")
    times.append(time.perf_counter() - started)
    platform.close()
    return {
        "stored_windows": 365,
        "backfill_365_s": backfill_s,
        "added": len(added),
        "add_one_s": times[0],
        "rows_per_day": rows_per_day,
    }


def run(*, rows: int, days: int, year_rows_per_day: int, with_evidently: bool = True) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="plimsoll-bench-monitoring-"))
    try:
        platform, logging_s = setup(work / "home", days=days, rows_per_day=rows // days)
        found: dict[str, Any] = {
            "rows": rows,
            "days": days,
            "features": len(FEATURES),
            "logging_s": logging_s,
        }
        found["plimsoll"] = plimsoll_windows(platform, days)
        found["evidently"] = evidently_windows(platform, days, work) if with_evidently else "not asked"
        found["floor"] = floors(platform, days)
        platform.close()
        found["add_one_window"] = add_one_window(work / "year", rows_per_day=year_rows_per_day)
        return found
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    year = int(sys.argv[2]) if len(sys.argv) > 2 else 2_000
    print(json.dumps(run(rows=rows, days=30, year_rows_per_day=year), indent=2))
