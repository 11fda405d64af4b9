"""What bench/tracking.py and bench/_mlflow_workload.py share: sizes, the data every run gets,
the search each side runs, timing helpers and server start/stop.

Standard library only: it is imported both under Plimsoll's venv and under the MLflow bench venv.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

N_PARAMS = 10
N_METRICS = 10
N_TAGS = 5
INGEST_KEYS = 10  # keys logged per step in the ingest workload
MLFLOW_BATCH = 1000  # values per MLflow log_batch call (its documented maximum)
FULL_RUNS = 10_000
FULL_HISTORY_POINTS = 100_000


@dataclass(frozen=True)
class Sizes:
    """How much each workload does; both sides get the same sizes."""

    ingest_values: int = 200_000  # (a) values, in steps of INGEST_KEYS values
    sync_warmup: int = 100  # (b) calls before timing
    sync_calls: int = 1_000  # (b) timed calls
    runs: int = FULL_RUNS  # (c) runs created; (d) searches over them
    search_warmup: int = 2  # (d)
    search_repeats: int = 20  # (d) timed searches
    history_points: int = FULL_HISTORY_POINTS  # (e) points in the one metric read back
    history_reads: int = 5  # (e) timed reads

    @classmethod
    def quick(cls, runs: int | None = None) -> Sizes:
        return cls(
            ingest_values=20_000,
            sync_warmup=20,
            sync_calls=300,
            runs=runs if runs is not None else 1_000,
            search_repeats=5,
            history_points=10_000,
            history_reads=3,
        )

    def to_json(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Sizes:
        return cls(**data)


# -- the data -------------------------------------------------------------------------------------


def run_data(i: int) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Params, metrics and tags of the i-th run of workload (c): the same on both sides.

    params.p1 takes 10 values evenly, metrics.m1 and metrics.m2 are uniform in [0, 1), so the
    search below matches about 5% of the runs (~500 of 10,000) and orders them by a unique key."""
    rng = random.Random(i)
    params = {f"p{j}": f"v{rng.randrange(10)}" for j in range(N_PARAMS)}
    metrics = {f"m{j}": rng.random() for j in range(N_METRICS)}
    tags = {f"t{j}": f"tag-{rng.randrange(100)}" for j in range(N_TAGS)}
    return params, metrics, tags


def run_name(i: int) -> str:
    return f"run-{i:05d}"


# The same query in each dialect: params.p1 = 'v3' AND metrics.m1 > 0.5, best 100 by metrics.m2.
SEARCH_PLIMSOLL = {
    "filter": "params.p1 = 'v3' and metrics.m1 > 0.5",
    "order_by": ["metrics.m2 DESC"],
    "max_results": 100,
}
SEARCH_MLFLOW = {
    "filter_string": "params.p1 = 'v3' and metrics.m1 > 0.5",
    "order_by": ["metrics.m2 DESC"],
    "max_results": 100,
}


def expected_search_names(runs: int) -> list[str]:
    """The names the search must answer, computed from the data itself."""
    matches = []
    for i in range(runs):
        params, metrics, _ = run_data(i)
        if params["p1"] == "v3" and metrics["m1"] > 0.5:
            matches.append((metrics["m2"], run_name(i)))
    matches.sort(reverse=True)
    return [name for _, name in matches[:100]]


def history_value(step: int) -> float:
    return 1.0 / (1.0 + step) + 0.001 * (step % 7)


# -- timing ---------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_summary(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in seconds]
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p99_ms": percentile(ms, 99),
        "mean_ms": statistics.fmean(ms),
        "min_ms": min(ms),
        "max_ms": max(ms),
    }


def history_reads(read: Callable[[], int], sizes: Sizes, write_seconds: float) -> dict[str, Any]:
    """(e) on either side: time `sizes.history_reads` calls of `read` (which returns how many
    points it got) and report them with the time the points took to write."""
    latencies = []
    points = 0
    for _ in range(sizes.history_reads):
        start = time.perf_counter()
        points = read()
        latencies.append(time.perf_counter() - start)
    result: dict[str, Any] = dict(latency_summary(latencies))
    result["median_ms"] = statistics.median(s * 1000 for s in latencies)
    result["points"] = points
    result["write_seconds"] = write_seconds
    return result


# -- servers --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    cmd: list[str], *, cwd: Path, env: dict[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """Start `cmd` in its own session (so it and every process it spawns can be stopped together)."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 90.0) -> None:
    """Wait until `url` answers (any HTTP status), or raise with the server's log if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not answer within {timeout:.0f} s:\n{tail(log_path)}")


def stop_server(proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    """SIGTERM the server's process group (its own session, started above), SIGKILL if it lingers."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    # Children (e.g. MLflow's uvicorn worker) may outlive the leader: clear the whole group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def clean_env(**extra: str) -> dict[str, Any]:
    """The environment without PLIMSOLL_*/MLFLOW_* settings that could change what is measured."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLIMSOLL_", "MLFLOW_"))}
    env.update(extra)
    return env
