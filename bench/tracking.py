"""Experiment tracking: Plimsoll server vs MLflow server, same machine, same SQLite backend, one run.

    .venv/bin/python bench/tracking.py              # full: 10,000 runs, 100,000-point history
    .venv/bin/python bench/tracking.py --quick      # development: reduced sizes, (c) extrapolated
    .venv/bin/python bench/tracking.py --runs 2000  # full sizes but 2,000 runs, (c) extrapolated

Both servers run as subprocesses on 127.0.0.1 with SQLite and local files in a temporary folder,
and are stopped at the end (also on Ctrl-C or an error). The Plimsoll workloads use the public SDK
in this process; the MLflow ones run in bench/_mlflow_workload.py under the MLflow venv
(.venv-bench-mlflow, made from bench/requirements-mlflow.txt), one server at a time so neither
competes with the other for the CPU. Workloads (the same sizes on both sides):

  (a) batch ingest, values/s: 10 metrics per step (Plimsoll: `run.log_metrics` then the final
      flush; MLflow: `log_batch` of 1,000 values)
  (b) one synchronous write's round trip, p50/p99 (Plimsoll: `log_metric(synchronous=True)`;
      MLflow: `MlflowClient().log_metric`)
  (c) creating 10,000 runs with 10 params, 10 metrics and 5 tags each (Plimsoll: start_run,
      log_metrics, end; MLflow: create_run, log_batch, set_terminated)
  (d) `params.p1 = 'v3' and metrics.m1 > 0.5` ordered by `metrics.m2 DESC`, top 100, over (c)
  (e) reading a 100,000-point metric history back whole (writing it is timed apart)

The table goes to stdout; the raw figures to bench/results/tracking-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

import plimsoll
from _common import (
    FULL_HISTORY_POINTS,
    FULL_RUNS,
    INGEST_KEYS,
    SEARCH_PLIMSOLL,
    Sizes,
    clean_env,
    expected_search_names,
    free_port,
    history_reads,
    history_value,
    latency_summary,
    run_data,
    run_name,
    start_server,
    stop_server,
    tail,
    wait_http,
)
from plimsoll import Client

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_MLFLOW_PYTHON = REPO / ".venv-bench-mlflow" / "bin" / "python"
MLFLOW_MISSING = "MLflow not installed: see bench/requirements-mlflow.txt"
# What the issue measured for MLflow 3.17 on its author's machine: used for the ratio (and marked
# "ref.") only when MLflow could not be run here.
REFERENCE_MLFLOW = {"a": 4_500.0, "b50": 14.0, "c": 188.0, "d": 820.0, "e": 6_000.0}

out = Console(width=None if sys.stdout.isatty() else 170)
err = Console(stderr=True)


def say(message: str) -> None:
    err.print(f"  {message}", highlight=False, markup=False)


# -- profiling ------------------------------------------------------------------------------------


class Profiler:
    """With --profile DIR: py-spy records the Plimsoll server and this process during each workload."""

    def __init__(self, directory: Path | None, py_spy: str | None, fmt: str) -> None:
        self.directory = directory
        self.py_spy = py_spy
        self.fmt = fmt
        self.server_pid: int | None = None

    @contextlib.contextmanager
    def record(self, name: str) -> Iterator[None]:
        if self.directory is None or self.py_spy is None or self.server_pid is None:
            yield
            return
        ext = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}[self.fmt]
        recorders = []
        for who, pid in (("server", self.server_pid), ("client", os.getpid())):
            target = self.directory / f"plimsoll-{name}-{who}.{ext}"
            cmd = [self.py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", self.fmt]
            cmd += ["--output", str(target), "--nonblocking"]
            recorders.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(0.5)  # let py-spy attach
        try:
            yield
        finally:
            for recorder in recorders:
                recorder.send_signal(signal.SIGINT)
            for recorder in recorders:
                try:
                    recorder.wait(30)
                except subprocess.TimeoutExpired:
                    recorder.kill()


# -- Plimsoll workloads ---------------------------------------------------------------------------


def pl_ingest(client: Client, sizes: Sizes) -> dict[str, Any]:
    run = client.start_run("bench-ingest", name="ingest", capture=False)
    run.flush()
    keys = [f"k{k}" for k in range(INGEST_KEYS)]
    steps = max(1, sizes.ingest_values // INGEST_KEYS)
    start = time.perf_counter()
    for step in range(steps):
        run.log_metrics({key: float(step * k) for k, key in enumerate(keys)}, step=step)
    client.flush()
    seconds = time.perf_counter() - start
    run.end()
    values = steps * INGEST_KEYS
    return {"values": values, "seconds": seconds, "values_per_s": values / seconds}


def pl_sync(client: Client, sizes: Sizes) -> dict[str, Any]:
    run = client.start_run("bench-sync", name="sync", capture=False)
    for i in range(sizes.sync_warmup):
        run.log_metric("warmup", float(i), step=i, synchronous=True)
    latencies = []
    for i in range(sizes.sync_calls):
        start = time.perf_counter()
        run.log_metric("sync", float(i), step=i, synchronous=True)
        latencies.append(time.perf_counter() - start)
    run.end()
    return latency_summary(latencies)


def pl_runs(client: Client, sizes: Sizes) -> dict[str, Any]:
    """(c) twice: each run's `end()` waiting for the server (a round trip per run), then the same
    runs ending with `end(wait=False)`, so that the SDK batches many runs per request; both timed
    up to the final flush, i.e. until every write is acknowledged."""
    result: dict[str, Any] = {"runs": sizes.runs}
    for experiment, wait in (("bench-runs", True), ("bench-runs-nowait", False)):
        client.create_experiment(experiment)
        start = time.perf_counter()
        for i in range(sizes.runs):
            params, metrics, tags = run_data(i)
            run = client.start_run(experiment, name=run_name(i), params=params, tags=tags, capture=False)
            run.log_metrics(metrics, step=0)
            run.end(wait=wait)
            if (i + 1) % 1000 == 0:
                say(f"[plimsoll] {i + 1} runs in {time.perf_counter() - start:.1f} s (wait={wait})")
        client.flush()
        seconds = time.perf_counter() - start
        result["seconds" if wait else "nowait_seconds"] = seconds
    result["runs_per_s"] = sizes.runs / result["seconds"]
    return result


def pl_search(client: Client, sizes: Sizes) -> dict[str, Any]:
    for _ in range(sizes.search_warmup):
        client.search_runs("bench-runs", **SEARCH_PLIMSOLL)  # type: ignore[arg-type]
    latencies = []
    names: list[str] = []
    for _ in range(sizes.search_repeats):
        start = time.perf_counter()
        found = client.search_runs("bench-runs", **SEARCH_PLIMSOLL)  # type: ignore[arg-type]
        latencies.append(time.perf_counter() - start)
        names = [run.name for run in found]
    result: dict[str, Any] = latency_summary(latencies)
    result["returned"] = len(names)
    result["correct"] = names == expected_search_names(sizes.runs)
    return result


def pl_history(client: Client, sizes: Sizes) -> dict[str, Any]:
    run = client.start_run("bench-history", name="history", capture=False)
    run.flush()
    start = time.perf_counter()
    for step in range(sizes.history_points):
        run.log_metrics({"loss": history_value(step)}, step=step)
    run.end()
    write_seconds = time.perf_counter() - start
    return history_reads(lambda: len(client.get_metric_history(run.id, "loss").values), sizes, write_seconds)


PL_WORKLOADS: dict[str, Callable[[Client, Sizes], dict[str, Any]]] = {
    "a": pl_ingest,
    "b": pl_sync,
    "c": pl_runs,
    "d": pl_search,
    "e": pl_history,
}
NAMES = {"a": "batch ingest", "b": "sync write", "c": "create runs", "d": "search", "e": "metric history"}


def start_plimsoll(tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    home = tmp / "plimsoll"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "plimsoll-server.log"
    plimsoll_bin = Path(sys.executable).parent / "plimsoll"
    cmd = [str(plimsoll_bin), "server", "--host", "127.0.0.1", "--port", str(port), "--home", str(home)]
    say(" ".join(cmd))
    proc = start_server(cmd, cwd=home, env=clean_env(), log_path=log_path)
    wait_http(f"{url}/healthz", proc, log_path)
    return proc, url, log_path


# -- MLflow ---------------------------------------------------------------------------------------


MLFLOW_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",  # no background job runner competing for the CPU
}


def mlflow_available(python: Path) -> bool:
    if not python.exists():
        return False
    check = subprocess.run([str(python), "-c", "import mlflow"], capture_output=True, timeout=120)
    return check.returncode == 0


def start_mlflow(tmp: Path, python: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    home = tmp / "mlflow"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "mlflow-server.log"
    cmd = [
        str(python.parent / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--default-artifact-root",
        str(home / "artifacts"),
        "--artifacts-destination",
        str(home / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    say(" ".join(cmd))
    proc = start_server(cmd, cwd=home, env=clean_env(**MLFLOW_ENV), log_path=log_path)
    wait_http(f"{url}/health", proc, log_path)
    return proc, url, log_path


def mlflow_workload(python: Path, url: str, sizes: Sizes, letter: str, cwd: Path) -> dict[str, Any]:
    """Run one workload in bench/_mlflow_workload.py under the MLflow venv; its JSON result."""
    cmd = [str(python), str(BENCH / "_mlflow_workload.py"), "--url", url]
    cmd += ["--sizes", json.dumps(sizes.to_json()), "--workloads", letter]
    proc = subprocess.Popen(cmd, cwd=cwd, env=clean_env(**MLFLOW_ENV), stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"MLflow workload ({letter}) failed with exit code {proc.returncode}")
    lines = [line for line in stdout.splitlines() if line.strip()]
    return json.loads(lines[-1])  # type: ignore[no-any-return]


# -- both -----------------------------------------------------------------------------------------


def bare_round_trip_ms(url: str, path: str, calls: int = 300) -> float:
    """p50 of a GET that does no work (a health check), with the standard library's client: the
    machine's floor for any round trip, so that absolute figures can be read against it."""
    parsed = urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=10)
    latencies = []
    try:
        for i in range(calls + 30):
            start = time.perf_counter()
            conn.request("GET", path)
            conn.getresponse().read()
            if i >= 30:
                latencies.append(time.perf_counter() - start)
    finally:
        conn.close()
    return statistics.median(latencies) * 1000


def loadavg() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return None


def run_all(
    sizes: Sizes, workloads: str, tmp: Path, mlflow_python: Path | None, profiler: Profiler
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any]]:
    """Both servers up; each workload on Plimsoll then at once on MLflow, so that whatever else the
    machine is doing weighs on both sides alike. Servers are stopped on the way out, always."""
    servers: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    pl: dict[str, Any] = {"version": plimsoll.__version__}
    ml: dict[str, Any] | None = None
    load: dict[str, Any] = {}
    try:
        pl_proc, pl_url, pl_log = start_plimsoll(tmp)
        servers.append(("Plimsoll", pl_proc, pl_log))
        profiler.server_pid = pl_proc.pid
        ml_url = ""
        if mlflow_python is not None:
            ml_proc, ml_url, ml_log = start_mlflow(tmp, mlflow_python)
            servers.append(("MLflow", ml_proc, ml_log))
            ml = {}
        pl["floor_ms"] = bare_round_trip_ms(pl_url, "/healthz")
        if ml is not None:
            ml["floor_ms"] = bare_round_trip_ms(ml_url, "/health")
        client = Client(pl_url)
        for letter in workloads:
            load[letter] = loadavg()
            say(f"({letter}) {NAMES[letter]}: Plimsoll ...")
            with profiler.record(letter + "-" + NAMES[letter].replace(" ", "-")):
                pl[letter] = PL_WORKLOADS[letter](client, sizes)
            if ml is not None and mlflow_python is not None:
                say(f"({letter}) {NAMES[letter]}: MLflow ...")
                answer = mlflow_workload(mlflow_python, ml_url, sizes, letter, tmp)
                ml["version"] = answer["version"]
                ml[letter] = answer[letter]
        client.close()
        load["end"] = loadavg()
        return pl, ml, load
    except BaseException:
        for name, _proc, log_path in servers:
            err.print(f"[red]{name} server log (tail):[/]\n{tail(log_path)}", highlight=False, markup=True)
        raise
    finally:
        for _name, proc, _log in reversed(servers):
            stop_server(proc)


# -- the table ------------------------------------------------------------------------------------


@dataclass
class Row:
    key: str
    workload: str
    unit: str
    plimsoll: float | None
    mlflow: float | None
    higher_is_better: bool = False
    mlflow_is_reference: bool = False
    min_ratio: float | None = None
    max_plimsoll: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.plimsoll is None or self.mlflow is None or self.plimsoll == 0 or self.mlflow == 0:
            return None
        return self.plimsoll / self.mlflow if self.higher_is_better else self.mlflow / self.plimsoll

    @property
    def target(self) -> str:
        parts = []
        if self.min_ratio is not None:
            parts.append(f"≥ {self.min_ratio:g}× MLflow")
        if self.max_plimsoll is not None:
            parts.append(f"≤ {self.max_plimsoll:g} {self.unit}")
        return " and ".join(parts) or "—"

    @property
    def met(self) -> bool | None:
        """True/False when the target can be judged; None when there is none or no figure."""
        if self.min_ratio is None and self.max_plimsoll is None:
            return None
        checks: list[bool] = []
        if self.min_ratio is not None:
            if self.ratio is None:
                return None
            checks.append(self.ratio >= self.min_ratio)
        if self.max_plimsoll is not None:
            if self.plimsoll is None:
                return None
            checks.append(self.plimsoll <= self.max_plimsoll)
        return all(checks)

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "workload": self.workload,
            "unit": self.unit,
            "plimsoll": self.plimsoll,
            "mlflow": self.mlflow,
            "mlflow_is_reference": self.mlflow_is_reference,
            "ratio": self.ratio,
            "target": self.target,
            "met": self.met,
            "note": self.note,
        }


def build_rows(sizes: Sizes, pl: dict[str, Any], ml: dict[str, Any] | None) -> list[Row]:
    """One row per figure. Without MLflow, the issue's MLflow figures stand in (marked "ref.")."""

    def get(side: dict[str, Any] | None, letter: str, field: str, scale: float = 1.0) -> float | None:
        if side is None or letter not in side:
            return None
        return float(side[letter][field]) * scale

    def mlflow(letter: str, field: str, ref: str, scale: float = 1.0, full: bool = True) -> dict[str, Any]:
        if ml is not None:
            return {"mlflow": get(ml, letter, field, scale), "mlflow_is_reference": False}
        if letter not in pl or not full:  # the figure is for the full size only
            return {"mlflow": None, "mlflow_is_reference": False}
        return {"mlflow": REFERENCE_MLFLOW[ref], "mlflow_is_reference": True}

    def reduced(full: int, actual: int, what: str) -> str:
        return "" if actual >= full else f"reduced: {actual:,} {what}"

    runs_scale = FULL_RUNS / sizes.runs
    sync_note = reduced(1000, sizes.sync_calls, "calls")
    return [
        Row(
            key="floor",
            workload="(machine) bare HTTP round trip, p50",
            unit="ms",
            plimsoll=pl.get("floor_ms"),
            mlflow=None if ml is None else ml.get("floor_ms"),
            note="a health check with http.client: no workload is faster than this here",
        ),
        Row(
            key="a",
            workload="(a) batch ingest",
            unit="values/s",
            higher_is_better=True,
            plimsoll=get(pl, "a", "values_per_s"),
            **mlflow("a", "values_per_s", "a"),
            min_ratio=25,
            note=f"{sizes.ingest_values:,} values, 10 metrics a step",
        ),
        Row(
            key="b50",
            workload="(b) sync write, p50",
            unit="ms",
            plimsoll=get(pl, "b", "p50_ms"),
            **mlflow("b", "p50_ms", "b50"),
            max_plimsoll=1,
            note=sync_note,
        ),
        Row(
            key="b99",
            workload="(b) sync write, p99",
            unit="ms",
            plimsoll=get(pl, "b", "p99_ms"),
            mlflow=get(ml, "b", "p99_ms"),
            note=sync_note,
        ),
        Row(
            key="c",
            workload=f"(c) create {FULL_RUNS:,} runs, batched",
            unit="s",
            plimsoll=get(pl, "c", "nowait_seconds", runs_scale),
            **mlflow("c", "seconds", "c", runs_scale),
            min_ratio=20,
            note="10 params, 10 metrics, 5 tags each; end(wait=False), the SDK batches runs, one flush"
            + ("" if sizes.runs == FULL_RUNS else f"; extrapolated linearly from {sizes.runs:,} runs"),
        ),
        Row(
            key="c_wait",
            workload="    (c) each end() waits",
            unit="s",
            plimsoll=get(pl, "c", "seconds", runs_scale),
            **mlflow("c", "seconds", "c", runs_scale),
            min_ratio=20,
            note="a round trip per run, as MLflow's set_terminated",
        ),
        Row(
            key="d",
            workload="(d) search top 100, p50",
            unit="ms",
            plimsoll=get(pl, "d", "p50_ms"),
            **mlflow("d", "p50_ms", "d", full=sizes.runs == FULL_RUNS),
            min_ratio=20,
            max_plimsoll=40,
            note=f"of {sizes.runs:,} runs" + ("" if sizes.runs >= FULL_RUNS else " (reduced)"),
        ),
        Row(
            key="e",
            workload="(e) read metric history",
            unit="ms",
            plimsoll=get(pl, "e", "median_ms"),
            **mlflow("e", "median_ms", "e", full=sizes.history_points == FULL_HISTORY_POINTS),
            max_plimsoll=150,
            note=f"{sizes.history_points:,} points, median of {sizes.history_reads} reads"
            + ("" if sizes.history_points >= FULL_HISTORY_POINTS else " (reduced)"),
        ),
        Row(
            key="e_write",
            workload="    writing that history",
            unit="s",
            plimsoll=get(pl, "e", "write_seconds"),
            mlflow=get(ml, "e", "write_seconds"),
            note="not part of (e); for information",
        ),
    ]


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit == "values/s":
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 10 else f"{value:,.0f} ms"
    return f"{value:,.2f} s" if value < 10 else f"{value:,.1f} s"


def print_table(rows: list[Row], mlflow_version: str | None) -> None:
    table = Table(title="Experiment tracking: Plimsoll vs MLflow (same machine, SQLite)")
    table.add_column("workload")
    table.add_column(f"Plimsoll {plimsoll.__version__}", justify="right", no_wrap=True)
    table.add_column(
        f"MLflow {mlflow_version}" if mlflow_version else "MLflow", justify="right", no_wrap=True
    )
    table.add_column("ratio", justify="right", no_wrap=True)
    table.add_column("target", no_wrap=True)
    table.add_column("met?", justify="center", no_wrap=True)
    table.add_column("note")
    for row in rows:
        mlflow_text = fmt(row.mlflow, row.unit) + (" (ref.)" if row.mlflow_is_reference else "")
        ratio = "—" if row.ratio is None else f"{row.ratio:,.1f}×"
        met = {True: "[green]yes[/]", False: "[red]NO[/]", None: "—"}[row.met]
        table.add_row(
            row.workload, fmt(row.plimsoll, row.unit), mlflow_text, ratio, row.target, met, row.note
        )
    out.print(table)
    if any(row.mlflow_is_reference for row in rows):
        out.print("(ref.) = MLflow 3.17 as measured in the issue, not on this machine.")


# -- main -----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
    load = None
    with contextlib.suppress(OSError):
        load = Path("/proc/loadavg").read_text().split()[:3]
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": ram_gib,
        "loadavg_at_start": load,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": commit,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Plimsoll vs MLflow tracking benchmark.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--runs", type=int, default=None, help=f"runs for (c)/(d) (default {FULL_RUNS:,})")
    parser.add_argument("--quick", action="store_true", help="reduced sizes for development")
    parser.add_argument("--workloads", default="abcde", help="subset of abcde to run ((d) runs (c) too)")
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--no-mlflow", action="store_true", help="run the Plimsoll side only")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy each Plimsoll workload into DIR")
    parser.add_argument("--profile-format", choices=["flamegraph", "speedscope", "raw"], default="flamegraph")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    args = parser.parse_args(argv)

    sizes = Sizes.quick(args.runs) if args.quick else Sizes(runs=args.runs or FULL_RUNS)
    workloads = "".join(sorted(set(args.workloads.lower()) & set("abcde")))
    if "d" in workloads and "c" not in workloads:
        workloads = "".join(sorted(workloads + "c"))  # the search needs the runs of (c)
    py_spy = None
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        py_spy = shutil.which("py-spy") or str(args.mlflow_python.parent / "py-spy")
        if not Path(py_spy).exists():
            err.print("[yellow]py-spy not found (pip install py-spy into the bench venv); not profiling[/]")
            py_spy = None
    profiler = Profiler(args.profile, py_spy, args.profile_format)
    info = machine()
    err.print(f"sizes: {sizes.to_json()}  workloads: {workloads}", highlight=False)
    err.print(f"machine: {info}", highlight=False)

    mlflow_python: Path | None = None
    if args.no_mlflow:
        err.print("MLflow skipped (--no-mlflow)")
    elif mlflow_available(args.mlflow_python):
        mlflow_python = args.mlflow_python
    else:
        err.print(MLFLOW_MISSING)
    with tempfile.TemporaryDirectory(prefix="plimsoll-bench-") as name:
        pl, ml, load = run_all(sizes, workloads, Path(name), mlflow_python, profiler)

    rows = build_rows(sizes, pl, ml)
    mlflow_version = None if ml is None else ml.get("version")
    print_table(rows, mlflow_version)
    if mlflow_python is None and not args.no_mlflow:
        out.print(MLFLOW_MISSING)
    for side, results in (("Plimsoll", pl), ("MLflow", ml)):
        if results is not None and "d" in results and not results["d"]["correct"]:
            out.print(f"[red]{side}'s search did not answer the expected 100 runs in order[/]")
    if max((v for v in load.values() if v is not None), default=0) > (os.cpu_count() or 1):
        out.print(f"[yellow]note: the machine was busy with other work (1-min load average {load})[/]")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    report = args.results / f"tracking-{stamp}.json"
    report.write_text(
        json.dumps(
            {
                "timestamp": stamp,
                "command": [sys.executable, *sys.argv],
                "machine": info,
                "loadavg_1min_before_each_workload": load,
                "versions": {"plimsoll": plimsoll.__version__, "mlflow": mlflow_version},
                "sizes": sizes.to_json(),
                "workloads": workloads,
                "plimsoll": pl,
                "mlflow": ml,
                "rows": [row.to_json() for row in rows],
            },
            indent=2,
        )
    )
    out.print(f"results: {report.relative_to(REPO) if report.is_relative_to(REPO) else report}")
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = main()
    except (KeyboardInterrupt, Exception) as exc:
        if isinstance(exc, KeyboardInterrupt):
            err.print("[yellow]interrupted; servers stopped[/]")
        else:
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        # Skip the SDK's exit-time flush: its server is gone, and it would retry for minutes.
        os._exit(130 if isinstance(exc, KeyboardInterrupt) else 1)
    sys.exit(code)
