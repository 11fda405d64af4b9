"""Benchmark: Plimsoll's drift comparison vs Evidently's DataDriftPreset vs a plain numpy/scipy pass.

Data: 15 numeric + 5 categorical columns, reference and current of equal size (100k and 1M rows by
default), a few columns shifted. Each (tool, size) runs once in a fresh subprocess of this interpreter
so that memory is measured cleanly: "extra memory" is the peak resident set size sampled every 2 ms
during the run minus the resident set size just before it (the loaded data).

Run (Evidently needs pandas < 3, hence its own venv; see bench/requirements-drift.txt):

    .venv-bench-drift/bin/python bench/drift.py            # all three tools
    .venv/bin/python bench/drift.py                        # Evidently column skipped with a note

Also printed: summarising 1M rows x 20 columns, merging 1,000 window summaries, and the machine's
floor: how long numpy takes to sort a million floats here, and whether its sort has a SIMD path (on
a machine of the same kind without one, a sort takes ~10x as long, and so does anything built on
sorts).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
# plimsoll.stats imports nothing else from Plimsoll, but plimsoll/__init__.py loads the SDK and its
# server dependencies, which the Evidently venv lacks. A bare package object pointing at src/plimsoll
# lets "plimsoll.stats" import on its own.
_package = types.ModuleType("plimsoll")
_package.__path__ = [str(REPO / "src" / "plimsoll")]
sys.modules.setdefault("plimsoll", _package)

NUMERIC, CATEGORICAL = 15, 5


def make_frames(rows: int) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    def frame(seed: int, shift: float) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        data: dict[str, Any] = {}
        for i in range(NUMERIC):
            moved = shift if i % 5 == 0 else 0.0
            if i % 3 == 0:
                data[f"num_{i}"] = rng.normal(moved, 1.0 + i % 4, rows)
            elif i % 3 == 1:
                data[f"num_{i}"] = rng.lognormal(moved, 0.8, rows)
            else:
                data[f"num_{i}"] = rng.integers(0, 500, rows).astype(np.float64) + moved * 50
        for i in range(CATEGORICAL):
            labels = np.array([f"cat{i}_{k}" for k in range(5 + 10 * i)])
            weights = np.linspace(1.0, 2.0 + shift * (i == 0) * 10, labels.size)
            data[f"cat_{i}"] = labels[rng.choice(labels.size, rows, p=weights / weights.sum())]
        return pd.DataFrame(data)

    return frame(1, 0.0), frame(2, 0.1)


def run_plimsoll(reference: Any, current: Any) -> str:
    from plimsoll import stats

    report = stats.compare(reference, current)
    return f"{len(report.drifted_columns)} drifted"


def run_scipy(reference: Any, current: Any) -> str:
    import numpy as np
    from scipy import stats as scipy_stats

    drifted = 0
    for name in reference.columns:
        if reference[name].dtype.kind == "f":
            p_value = scipy_stats.ks_2samp(reference[name].to_numpy(), current[name].to_numpy()).pvalue
        else:
            counts = [reference[name].value_counts(), current[name].value_counts()]
            labels = counts[0].index.union(counts[1].index)
            table = np.array([c.reindex(labels, fill_value=0).to_numpy() for c in counts])
            p_value = scipy_stats.chi2_contingency(table, correction=False).pvalue
        drifted += p_value < 0.05
    return f"{drifted} drifted"


def run_evidently(reference: Any, current: Any) -> str:
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()]).run(current_data=current, reference_data=reference)
    result = snapshot.dict()
    drifted = next(
        (
            int(m["value"]["count"])
            for m in result.get("metrics", [])
            if "DriftedColumnsCount" in str(m.get("metric_name", ""))
        ),
        "?",
    )
    return f"{drifted} drifted"


def run_summary(reference: Any, current: Any) -> str:
    from plimsoll import stats

    stats.summarize(reference)
    return "summarised"


def run_merge(reference: Any, current: Any) -> str:
    from plimsoll import stats

    summary = stats.summarize(reference)
    size = len(current) // 1000
    windows = [
        stats.summarize(current.iloc[i * size : (i + 1) * size], reference=summary) for i in range(1000)
    ]
    times = []
    for _ in range(5):  # the first merge of a process also pays for first calls (allocations, imports)
        started = time.perf_counter()
        stats.merge(windows)
        times.append(time.perf_counter() - started)
    return f"merge alone: first {times[0]:.3f} s, median of 5 {sorted(times)[2]:.3f} s"


TOOLS = {
    "plimsoll": run_plimsoll,
    "scipy": run_scipy,
    "evidently": run_evidently,
    "summary": run_summary,
    "merge": run_merge,
}


def _import_for(tool: str) -> None:
    if tool == "evidently":
        import evidently.presets  # noqa: F401
    elif tool == "scipy":
        import scipy.stats  # noqa: F401
    else:
        import plimsoll.stats  # noqa: F401


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(tool: str, rows: int) -> dict[str, Any]:
    """Child process: load data, then time one run of ``tool`` while sampling memory."""
    reference, current = make_frames(rows)
    _import_for(tool)  # imports are not part of the measured run
    baseline = _rss()
    peak = baseline
    running = True

    def sample() -> None:
        nonlocal peak
        while running:
            peak = max(peak, _rss())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    outcome = TOOLS[tool](reference, current)
    elapsed = time.perf_counter() - started
    running = False
    sampler.join()
    return {"seconds": elapsed, "extra_mb": (max(peak, _rss()) - baseline) / 2**20, "outcome": outcome}


def sort_floor() -> str:
    """The machine's sort speed: median of 5 sorts of 1M random float64, and the CPU features that
    numpy's SIMD sorts (x86-simd-sort, Highway) use."""
    import numpy

    values = numpy.random.default_rng(0).random(1_000_000)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        numpy.sort(values)
        times.append(time.perf_counter() - started)
    times.sort()
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    simd = ", ".join(
        f"{name} {'yes' if features.get(name) else 'no'}" for name in ("AVX2", "AVX512_SKX", "ASIMD")
    )
    return f"machine floor: numpy sort of 1M float64 {times[2] * 1000:.1f} ms (median of 5); {simd}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--child", nargs=2, metavar=("TOOL", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child[0], int(args.child[1]))))
        return
    try:
        import evidently

        tools = ["plimsoll", "scipy", "evidently"]
        print(f"Evidently {evidently.__version__}")
    except ImportError:
        tools = ["plimsoll", "scipy"]
        print(
            "Evidently is not installed in this interpreter: its column is skipped "
            "(see bench/requirements-drift.txt)"
        )
    import numpy
    import pandas
    import scipy

    print(
        f"Python {sys.version.split()[0]}, numpy {numpy.__version__}, pandas {pandas.__version__}, "
        f"scipy {scipy.__version__}, {os.cpu_count()} CPUs"
    )
    print(sort_floor())
    print(f"{'rows (each side)':>17} {'tool':>10} {'seconds':>9} {'extra MB':>9}  outcome")
    jobs = [(tool, rows) for rows in args.rows for tool in tools]
    jobs += [("summary", 1_000_000), ("merge", 1_000_000)]
    for tool, rows in jobs:
        child = subprocess.run(
            [sys.executable, __file__, "--child", tool, str(rows)],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            print(f"{rows:>17,} {tool:>10} failed: {child.stderr.strip().splitlines()[-1:]}")
            continue
        result = json.loads(child.stdout.strip().splitlines()[-1])
        print(
            f"{rows:>17,} {tool:>10} {result['seconds']:>9.3f} {result['extra_mb']:>9.0f}  {result['outcome']}"
        )


if __name__ == "__main__":
    main()
