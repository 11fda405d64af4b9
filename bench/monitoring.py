"""Monitoring benchmarks. Each section is a function of its own, chosen with --sections:

  logging  (a) logging throughput: rows of 20 features through the SDK (`pl.log_predictions`) to a
           Plimsoll server on 127.0.0.1, rows/s until the server has acknowledged every row, and
           the memory the SDK process and the server held while doing it; beside it what an MLflow
           user would write (`mlflow.log_table` per call, into a run) and the machine's floors.

  windows  (b) a daily monitor over --monitor-rows (10M) logged predictions x 20 features, 30
           days, from the Parquet segments to its stored results, against Evidently's
           DataDriftPreset on the same days and files (its venv: bench/requirements-drift.txt);
           (c) one more window added to a monitor that holds 365 (bench/_monitor_windows.py).

    .venv/bin/python bench/monitoring.py                      # every section, full sizes
    .venv/bin/python bench/monitoring.py --quick              # development: reduced sizes
    .venv/bin/python bench/monitoring.py --sections logging --no-mlflow

The servers run as subprocesses with a temporary home (SQLite, local blobs) and are stopped at the
end, also on Ctrl-C or an error. Each call shape is logged by a fresh child process of the
interpreter concerned (this venv for Plimsoll, .venv-bench-mlflow for MLflow, made from
bench/requirements-mlflow.txt; without it, MLflow is skipped with a note), so that its memory is
measured cleanly. Over the timed part (after a first call that pays for imports): "MB: SDK" is the
peak resident set size sampled every 5 ms minus the resident set size just before (the inputs
already built), "server" the same for the server's processes, "Arrow" the SDK's Arrow memory pool
(its buffer); "CPU µs/row" the CPU time of the logging process and of the server's processes a
row, which moves far less than wall time when other work shares the machine. Shapes:

  10,000-row calls   a batch job logging a DataFrame slice at a time
  1,000-row calls    the same, smaller slices
  1-10-row calls     a served model logging each request's rows (a list of dicts), as they come

Floors, measured in the same run: a bare HTTP round trip on loopback (GET /healthz), the bytes/s of
an HTTP POST of one SDK batch's Arrow IPC stream to a server that only reads it, and the rows/s at
which this machine writes the same table as Parquet (zstd, as the server stores it).

The table goes to stdout; the raw figures to bench/results/monitoring-<timestamp>.json.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import http.server
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from _common import clean_env, free_port, start_server, stop_server, tail, wait_http

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_MLFLOW_PYTHON = REPO / ".venv-bench-mlflow" / "bin" / "python"
MODEL = "bench-model"
NUMERIC, CATEGORICAL = 18, 2  # 20 features
MLFLOW_TABLES_PER_RUN = 100


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# -- the data (the same on both sides) ------------------------------------------------------------


@dataclass(frozen=True)
class Shape:
    """How one workload logs its rows: `rows` in calls of `low` to `high` rows (as a list of dicts
    per call when `records`, as a DataFrame slice otherwise)."""

    key: str
    title: str
    rows: int
    low: int
    high: int
    records: bool = False

    def call_sizes(self) -> list[int]:
        import numpy as np

        if self.low == self.high:
            sizes = [self.low] * (self.rows // self.low)
        else:
            rng = np.random.default_rng(7)
            sizes = rng.integers(self.low, self.high + 1, self.rows // self.low).tolist()
        cut, total = [], 0
        for size in sizes:
            if total >= self.rows:
                break
            size = min(size, self.rows - total)
            cut.append(size)
            total += size
        return cut


def shapes(quick: bool, rows: int | None, small_rows: int | None) -> list[Shape]:
    big = rows or (200_000 if quick else 1_000_000)
    small = small_rows or (20_000 if quick else 100_000)
    return [
        Shape("10k", "10,000-row calls", big, 10_000, 10_000),
        Shape("1k", "1,000-row calls", big, 1_000, 1_000),
        Shape("small", "1-10-row calls", small, 1, 10, records=True),
    ]


def make_frame(rows: int) -> Any:
    """18 numeric features (normal, log-normal, integer-valued) and 2 categorical ones (5 and 40
    labels), with a 0/1 prediction and its score."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    data: dict[str, Any] = {}
    for i in range(NUMERIC):
        if i % 3 == 0:
            data[f"num_{i}"] = rng.normal(0.0, 1.0 + i % 4, rows)
        elif i % 3 == 1:
            data[f"num_{i}"] = rng.lognormal(0.0, 0.8, rows)
        else:
            data[f"num_{i}"] = rng.integers(0, 500, rows).astype(np.float64)
    for i, labels in enumerate((5, 40)):
        names = np.array([f"cat{i}_{k}" for k in range(labels)])
        data[f"cat_{i}"] = names[rng.integers(0, labels, rows)]
    frame = pd.DataFrame(data)
    score = 1.0 / (1.0 + np.exp(-frame["num_0"].to_numpy()))
    return frame, (score > 0.5).astype(np.int64), score


def make_calls(shape: Shape, for_mlflow: bool) -> list[tuple[Any, Any, Any]]:
    """The inputs of every call, built before the clock starts (a caller has them already)."""
    frame, predictions, scores = make_frame(shape.rows)
    calls = []
    start = 0
    for size in shape.call_sizes():
        part = frame.iloc[start : start + size]
        p, s = predictions[start : start + size], scores[start : start + size]
        if for_mlflow:  # one table a call: the features, the prediction and the score together
            part = part.assign(prediction=p, score=s).reset_index(drop=True)
            calls.append((part, None, None))
        elif shape.records:
            calls.append((part.to_dict("records"), p.tolist(), s.tolist()))
        else:
            calls.append((part, p, s))
        start += size
    return calls


# -- measuring a child's memory -------------------------------------------------------------------


def rss_bytes(pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (a server's worker processes: MLflow's uvicorn runs in one)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                parent = int(stat.rsplit(")", 1)[1].split()[1])
                parents.setdefault(parent, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        queue.extend(parents.get(current, []))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time the processes `pids` have used so far."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_rss_bytes(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += rss_bytes(pid)
    return total


class Sampler:
    """Peaks of each of `readers` sampled every 5 ms on one thread, from `start()` to `stop()`."""

    def __init__(self, **readers: Callable[[], int]) -> None:
        self.readers = readers
        self.baseline: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._sample()
        self.baseline = dict(self.peak)
        self._running = True
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        for name, read in self.readers.items():
            with contextlib.suppress(OSError):
                value = read()
                self.peak[name] = max(self.peak.get(name, value), value)

    def _loop(self) -> None:
        while self._running:
            self._sample()
            time.sleep(0.005)

    def stop(self) -> dict[str, int]:
        """Each reader's peak growth over its baseline."""
        self._running = False
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return {name: self.peak[name] - self.baseline.get(name, 0) for name in self.readers}


class Measure:
    """What a child measures over its timed part: wall time, its own CPU time (every thread), the
    server processes' CPU time, and the peak growth of its own and the servers' resident memory
    (and of `extra` readers)."""

    def __init__(self, server: list[int], **extra: Callable[[], int]) -> None:
        self.server = server
        self.sampler = Sampler(rss=rss_bytes, server_rss=lambda: tree_rss_bytes(server), **extra)
        self.figures: dict[str, Any] = {}

    def __enter__(self) -> Measure:
        self.sampler.start()
        self._cpu = time.process_time()
        self._server_cpu = cpu_seconds(self.server)
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        seconds = time.perf_counter() - self.started
        grown = self.sampler.stop()
        self.figures = {
            "seconds": seconds,
            "sdk_cpu_s": time.process_time() - self._cpu,
            "server_cpu_s": cpu_seconds(self.server) - self._server_cpu,
            "sdk_mb": grown.pop("rss") / 2**20,
            "server_mb": grown.pop("server_rss") / 2**20,
            **{f"grown_{name}": value for name, value in grown.items()},
        }


# -- (a) logging: the children --------------------------------------------------------------------


def child_plimsoll_logging(shape: Shape, url: str, server: list[int]) -> dict[str, Any]:
    """Log `shape`'s rows with `pl.log_predictions` to the server at `url`, then flush."""
    os.environ["PLIMSOLL_URL"] = url
    import pyarrow as pa

    import plimsoll as pl

    calls = make_calls(shape, for_mlflow=False)
    model = f"{MODEL}/1"
    first = calls[0]
    pl.log_predictions(model, first[0], first[1], scores=first[2], deployment="warm-up")
    pl.flush()  # the first call pays for imports (here and in the server) and the connection
    monitoring = pl.default_client().monitoring
    with Measure(server, arrow=pa.total_allocated_bytes, buffered=lambda: monitoring.buffered) as measure:
        for features, predictions, scores in calls:
            pl.log_predictions(model, features, predictions, scores=scores, deployment=shape.key)
        returned = time.perf_counter()
        pl.flush()
    figures = measure.figures
    rows = sum(len(c[1]) for c in calls)
    return {
        "rows": rows,
        "calls": len(calls),
        **figures,
        "calls_seconds": returned - measure.started,
        "rows_per_s": rows / figures["seconds"],
        "arrow_mb": figures.pop("grown_arrow") / 2**20,
        "max_buffered_rows": measure.sampler.peak["buffered"],
        "dropped": monitoring.dropped,
        "refused": monitoring.refused,
    }


def child_mlflow_logging(shape: Shape, url: str, server: list[int], limit_s: float) -> dict[str, Any]:
    """What an MLflow user would write: one `mlflow.log_table` a call, each call's rows a file of
    its own (appending to one file downloads it again every call), a new run every
    MLFLOW_TABLES_PER_RUN calls (a run lists its tables in a tag of at most 8,000 characters:
    past ~170 tables, `log_table` fails). Stops after `limit_s` seconds: the rows/s are those of
    the calls made."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    import mlflow

    calls = make_calls(shape, for_mlflow=True)
    mlflow.set_tracking_uri(url)
    mlflow.set_experiment(f"bench-logging-{shape.key}")
    with mlflow.start_run():
        mlflow.log_table(calls[0][0], artifact_file="warm-up.json")
    done = rows = 0
    with Measure(server) as measure:
        for i, (table, _, _) in enumerate(calls):
            if i % MLFLOW_TABLES_PER_RUN == 0:
                if i:
                    mlflow.end_run()
                mlflow.start_run()
            mlflow.log_table(table, artifact_file=f"predictions/{i:07d}.json")
            done += 1
            rows += len(table)
            if time.perf_counter() - measure.started > limit_s:
                break
        mlflow.end_run()
    return {
        "version": mlflow.__version__,
        "rows": rows,
        "calls": done,
        "planned_rows": shape.rows,
        **measure.figures,
        "rows_per_s": rows / measure.figures["seconds"],
    }


# -- (a) logging: the floors ----------------------------------------------------------------------


class _Sink(http.server.BaseHTTPRequestHandler):
    """Reads a POST's body and answers 201: an HTTP server that does nothing with what it gets."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        left = int(self.headers["Content-Length"])
        while left:
            left -= len(self.rfile.read(min(left, 1 << 20)))
        self.send_response(201)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def child_sink(port: int) -> None:
    http.server.HTTPServer(("127.0.0.1", port), _Sink).serve_forever()


def bare_round_trip_ms(port: int, path: str, calls: int = 300) -> float:
    """p50 of a GET that does no work, with the standard library's client."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
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


def sdk_batch(rows: int) -> Any:
    """The table the SDK sends for `rows` rows of the data above (its ids, times and columns)."""
    from plimsoll.monitoring.tables import prediction_table

    frame, predictions, scores = make_frame(rows)
    return prediction_table(frame, predictions, scores=scores, now_ms=int(time.time() * 1000))


def post_floor(port: int, payload: bytes, repeats: int = 7) -> float:
    """Median seconds to POST `payload` to the sink at `port` and read its answer."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/vnd.apache.arrow.stream"}
    times = []
    try:
        for _ in range(repeats + 1):
            start = time.perf_counter()
            conn.request("POST", "/", body=payload, headers=headers)
            conn.getresponse().read()
            times.append(time.perf_counter() - start)
    finally:
        conn.close()
    return statistics.median(times[1:])


def floors(tmp: Path, plimsoll_port: int) -> dict[str, Any]:
    """The machine's own speeds for the parts of logging a batch, measured here and now."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from plimsoll.client.monitoring import Monitoring
    from plimsoll.monitoring.tables import PARQUET_COMPRESSION, to_ipc, to_parquet

    rows = Monitoring.__init__.__kwdefaults__["flush_rows"]  # type: ignore[index]
    table = sdk_batch(rows)
    payload = to_ipc(table)
    result: dict[str, Any] = {"batch_rows": rows, "batch_mb": len(payload) / 2**20}
    result["round_trip_ms"] = bare_round_trip_ms(plimsoll_port, "/healthz")
    port = free_port()
    log_path = tmp / "sink.log"
    sink = start_server(
        [sys.executable, __file__, "--child", "sink", str(port)], cwd=tmp, env=clean_env(), log_path=log_path
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/", sink, log_path)
        seconds = post_floor(port, payload)
    finally:
        stop_server(sink)
    result["post_mb_per_s"] = len(payload) / seconds / 2**20
    result["post_rows_per_s"] = rows / seconds
    for name, write in (
        ("parquet", lambda: pq.write_table(table, pa.BufferOutputStream(), compression=PARQUET_COMPRESSION)),
        ("server_parquet", lambda: to_parquet(table)),
    ):
        times = []
        for _ in range(5):
            start = time.perf_counter()
            write()
            times.append(time.perf_counter() - start)
        result[f"{name}_rows_per_s"] = rows / statistics.median(times)
    return result


# -- (a) logging: the parent ----------------------------------------------------------------------


def run_child(cmd: list[str], server_pid: int) -> dict[str, Any]:
    """Run one child, telling it the server's processes; its JSON result (last line of stdout)."""
    cmd = [*cmd, "--server-pids", ",".join(map(str, process_tree(server_pid)))]
    proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = proc.communicate()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[3:6]} failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


def start_plimsoll(tmp: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    home = tmp / "plimsoll"
    home.mkdir()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp / "plimsoll-server.log"
    cmd = [str(Path(sys.executable).parent / "plimsoll"), "server", "--port", str(port), "--home", str(home)]
    say(" ".join(cmd))
    proc = start_server(cmd, cwd=home, env=clean_env(), log_path=log_path)
    wait_http(f"{url}/healthz", proc, log_path)
    return proc, url, log_path


def register_model(url: str) -> None:
    from plimsoll import Client

    client = Client(url)
    with client.start_run(experiment="bench", capture=False) as run:
        run.log_text("weights", "model/weights.txt")
    client.registry.register(MODEL, run_id=run.id, artifact_path="model")
    client.close()


def stored_rows(url: str, deployment: str) -> int:
    from plimsoll import Client

    client = Client(url)
    try:
        found = client.monitoring.segments("predictions", model=f"{MODEL}/1", deployment=deployment)
        return sum(segment.rows for segment in found)
    finally:
        client.close()


def logging_section(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    """(a): every shape on Plimsoll, then at once on MLflow (so that whatever else the machine is
    doing weighs on both alike), then the floors."""
    from tracking import mlflow_available, start_mlflow

    result: dict[str, Any] = {"shapes": {}}
    mlflow_python = None if args.no_mlflow else args.mlflow_python
    if mlflow_python is not None and not mlflow_available(mlflow_python):
        say(f"MLflow not installed at {mlflow_python}: see bench/requirements-mlflow.txt; skipped")
        mlflow_python = None
    servers: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    try:
        pl_proc, pl_url, pl_log = start_plimsoll(tmp)
        servers.append(("Plimsoll", pl_proc, pl_log))
        register_model(pl_url)
        if mlflow_python is not None:
            ml_proc, ml_url, ml_log = start_mlflow(tmp, mlflow_python)
            servers.append(("MLflow", ml_proc, ml_log))
        for shape in shapes(args.quick, args.rows, args.small_rows):
            entry: dict[str, Any] = {"shape": asdict(shape), "loadavg": loadavg()}
            say(f"(a) {shape.title}: Plimsoll ...")
            cmd = [sys.executable, __file__, "--child", "plimsoll-logging", shape.key, pl_url]
            cmd += (
                ["--rows", str(shape.rows)] if shape.records is False else ["--small-rows", str(shape.rows)]
            )
            entry["plimsoll"] = run_child(cmd, pl_proc.pid)
            entry["plimsoll"]["stored_rows"] = stored_rows(pl_url, shape.key)
            if mlflow_python is not None:
                say(f"(a) {shape.title}: MLflow ...")
                cmd = [str(mlflow_python), __file__, "--child", "mlflow-logging", shape.key, ml_url]
                cmd += (
                    ["--rows", str(shape.rows)]
                    if shape.records is False
                    else ["--small-rows", str(shape.rows)]
                )
                cmd += ["--mlflow-seconds", str(args.mlflow_seconds)]
                entry["mlflow"] = run_child(cmd, ml_proc.pid)
            result["shapes"][shape.key] = entry
        say("(a) floors ...")
        result["floors"] = floors(tmp, int(pl_url.rsplit(":", 1)[1]))
        return result
    except BaseException:
        for name, _proc, log_path in servers:
            say(f"{name} server log (tail):\n{tail(log_path)}")
        raise
    finally:
        for _name, proc, _log in reversed(servers):
            stop_server(proc)


def print_logging(result: dict[str, Any]) -> None:
    floor = result["floors"]
    print("\n(a) logging throughput: rows of 20 features, until the server acknowledged every row")
    print(
        f"{'shape':<18} {'side':<14} {'rows':>10} {'calls':>7} {'seconds':>8} {'rows/s':>9} "
        f"{'CPU µs/row: SDK':>15} {'server':>6} {'MB: SDK':>7} {'Arrow':>5} {'server':>6}  note"
    )

    def line(title: str, side: str, r: dict[str, Any], arrow: str, note: str) -> None:
        print(
            f"{title:<18} {side:<14} {r['rows']:>10,} {r['calls']:>7,} {r['seconds']:>8.2f} "
            f"{r['rows_per_s']:>9,.0f} {r['sdk_cpu_s'] / r['rows'] * 1e6:>15.2f} "
            f"{r['server_cpu_s'] / r['rows'] * 1e6:>6.2f} {r['sdk_mb']:>7.0f} {arrow:>5} "
            f"{r['server_mb']:>6.0f}  {note}"
        )

    for entry in result["shapes"].values():
        pl = entry["plimsoll"]
        note = (
            f"{pl['calls_seconds'] / pl['calls'] * 1e6:,.0f} µs a call, the calls done after "
            f"{pl['calls_seconds']:.2f} s; at most {pl['max_buffered_rows']:,} rows buffered"
        )
        lost = pl["rows"] - pl["stored_rows"]
        if lost or pl["dropped"] or pl["refused"]:
            note += f"; NOT ALL STORED: {lost} missing, {pl['dropped']} dropped, {pl['refused']} refused"
        line(entry["shape"]["title"], "Plimsoll", pl, f"{pl['arrow_mb']:.0f}", note)
        if "mlflow" in entry:
            ml = entry["mlflow"]
            note = f"{ml['seconds'] / ml['calls'] * 1e3:,.1f} ms a call (log_table)"
            if ml["rows"] < ml["planned_rows"]:
                note += (
                    f"; stopped after {ml['calls']:,} calls ({ml['rows']:,} of {ml['planned_rows']:,} rows)"
                )
            note += f"; Plimsoll {pl['rows_per_s'] / ml['rows_per_s']:,.0f}x"
            line("", f"MLflow {ml['version']}", ml, "", note)
    print(
        f"floors: bare HTTP round trip {floor['round_trip_ms']:.2f} ms; POST of one SDK batch "
        f"({floor['batch_rows']:,} rows, {floor['batch_mb']:.1f} MB of Arrow IPC) to a server that "
        f"only reads it: {floor['post_mb_per_s']:,.0f} MB/s = {floor['post_rows_per_s']:,.0f} rows/s; "
        f"Parquet write of that table (zstd, pyarrow's defaults): {floor['parquet_rows_per_s']:,.0f} rows/s; "
        f"as the server writes it: {floor['server_parquet_rows_per_s']:,.0f} rows/s"
    )


def windows_section(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import _monitor_windows

    rows = 300_000 if args.quick else args.monitor_rows
    year = 1_000 if args.quick else args.year_rows_per_day
    return _monitor_windows.run(
        rows=rows, days=30, year_rows_per_day=year, with_evidently=not args.no_evidently
    )


def print_windows(found: dict[str, Any]) -> None:
    ours, theirs, floor, year = found["plimsoll"], found["evidently"], found["floor"], found["add_one_window"]
    print(
        f"\n(b) a daily monitor: {found['rows']:,} predictions x {found['features']} features over "
        f"{found['days']} days (logged in {found['logging_s']:.1f} s)"
    )
    print(
        f"  Plimsoll: {ours['seconds']:.1f} s for {ours['windows']} windows (reference profiled in "
        f"{ours['reference_s']:.1f} s), {ours['extra_mb']:.0f} MB above the start; drifted windows "
        f"{ours['drifted_windows']}"
    )
    if isinstance(theirs, dict):
        print(
            f"  Evidently: {theirs['seconds']:.1f} s, {theirs['extra_mb']:.0f} MB; drifted windows "
            f"{theirs['drifted_windows']}; Plimsoll {theirs['seconds'] / ours['seconds']:.0f}x faster"
        )
    else:
        print(f"  Evidently: {theirs}")
    print(
        f"  floor: reading the segments' {floor['segments_mb']:.0f} MB once {floor['read_s']:.2f} s; "
        f"numpy sort of 1M floats {floor['sort_1m_s'] * 1000:.0f} ms"
    )
    print(
        f"(c) one more window on a monitor holding {year['stored_windows']} ({year['rows_per_day']:,} rows a "
        f"day): {year['add_one_s']:.2f} s (the 365 backfilled in {year['backfill_365_s']:.0f} s)"
    )


SECTIONS: dict[
    str, tuple[Callable[[argparse.Namespace, Path], dict[str, Any]], Callable[[dict[str, Any]], None]]
] = {
    "logging": (logging_section, print_logging),
    "windows": (windows_section, print_windows),
}


# -- main -----------------------------------------------------------------------------------------


def loadavg() -> float | None:
    with contextlib.suppress(OSError, ValueError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return None


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    commit = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "loadavg_at_start": loadavg(),
        "python": platform.python_version(),
        "commit": commit,
    }


def child(args: argparse.Namespace) -> None:
    what, *rest = args.child
    if what == "sink":
        child_sink(int(rest[0]))
        return
    key, url = rest
    shape = next(s for s in shapes(args.quick, args.rows, args.small_rows) if s.key == key)
    server = [int(pid) for pid in args.server_pids.split(",")]
    if what == "plimsoll-logging":
        result = child_plimsoll_logging(shape, url, server)
    elif what == "mlflow-logging":
        result = child_mlflow_logging(shape, url, server, args.mlflow_seconds)
    else:
        raise SystemExit(f"unknown child {what!r}")
    print(json.dumps(result), flush=True)
    os._exit(0)  # nothing left to send: skip the SDK's exit-time work


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sections", nargs="*", choices=sorted(SECTIONS), default=sorted(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="reduced sizes for development")
    parser.add_argument("--rows", type=int, default=None, help="rows of the 10,000- and 1,000-row shapes")
    parser.add_argument("--small-rows", type=int, default=None, help="rows of the 1-10-row shape")
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--no-mlflow", action="store_true", help="Plimsoll alone")
    parser.add_argument(
        "--mlflow-seconds", type=float, default=60.0, help="stop an MLflow shape after this long"
    )
    parser.add_argument("--monitor-rows", type=int, default=10_000_000, help="rows of section windows' (b)")
    parser.add_argument("--year-rows-per-day", type=int, default=27_400, help="rows a day of section (c)")
    parser.add_argument("--no-evidently", action="store_true", help="section windows without Evidently")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--server-pids", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    info = machine()
    say(f"machine: {info}")
    results: dict[str, Any] = {"machine": info, "command": [sys.executable, *sys.argv]}
    with tempfile.TemporaryDirectory(prefix="plimsoll-bench-monitoring-") as name:
        for section in args.sections:
            run, _ = SECTIONS[section]
            results[section] = run(args, Path(name))
    results["loadavg_at_end"] = loadavg()
    for section in args.sections:
        SECTIONS[section][1](results[section])
    if max(v for v in (info["loadavg_at_start"], results["loadavg_at_end"], 0.0) if v is not None) > (
        os.cpu_count() or 1
    ):
        print(
            f"note: the machine was busy with other work (1-min load average {info['loadavg_at_start']} "
            f"at the start, {results['loadavg_at_end']} at the end)"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    report = args.results / f"monitoring-{stamp}.json"
    report.write_text(json.dumps(results, indent=2))
    print(f"results: {report.relative_to(REPO) if report.is_relative_to(REPO) else report}")
    return 0


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminate)
    try:
        code = main()
    except (KeyboardInterrupt, Exception) as exc:
        if not isinstance(exc, KeyboardInterrupt):
            traceback.print_exc()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130 if isinstance(exc, KeyboardInterrupt) else 1)
    sys.exit(code)
