"""Serving benchmark: the same scikit-learn model (a LogisticRegression on 20 numeric features,
trained on generated data) served side by side in one run by

  plimsoll        `plimsoll serve bench-api --model bench-model@production`, as shipped: every
                  prediction logged to the monitoring log of a temporary home (embedded SDK),
                  scores answered, one JSON access line a request
  plimsoll-nolog  the same server built the same way (bench/serving.py --child plimsoll-nolog:
                  `plimsoll serve` has no option to turn logging off) with no prediction log
  bare            a bare FastAPI app: loads the same fitted model (joblib), `POST /invocations`
                  with `dataframe_split`, calls `predict`, answers `{"predictions": [...]}`
  mlflow          `mlflow models serve --env-manager local --workers 1` of the same model saved
                  with `mlflow.sklearn.save_model` (trained in the MLflow venv from the same data
                  and seed; .venv-bench-mlflow from bench/requirements-mlflow.txt, skipped with a
                  note when missing)
  floor           a do-nothing ASGI app (reads the body, answers a constant) under the same
                  uvicorn settings: the machine's floor for the load generator and HTTP stack

All servers are subprocesses on 127.0.0.1, one process (worker) each, stopped at the end, also on
Ctrl-C or an error. Each cell (rows per request x concurrency) runs every server back to back, so
that whatever else the machine does weighs on all alike; with --rounds > 1 the order rotates and
each figure is the median over rounds.

The load generator is a separate process (this interpreter, asyncio, uvloop when installed) that
speaks HTTP/1.1 over keep-alive connections with pre-encoded requests (no HTTP client library on
the measured path), one connection per concurrent caller, for --seconds a cell after --warmup
seconds that are not counted. Its own CPU time per request is reported ("gen µs/req").

Then: an alias move under load (Plimsoll at concurrency 8: a second version registered and the
alias `production` moved 2 -> 1 -> 2 while requests flow; failures counted, answers' versions from
the `X-Plimsoll-Version` header), and a check that the Plimsoll server logged every row it
answered (its monitoring log read back after it stopped, against the rows its 200s carried).

    .venv/bin/python bench/serving.py                 # full run
    .venv/bin/python bench/serving.py --quick         # development: short cells, one round
    .venv/bin/python bench/serving.py --no-mlflow     # without MLflow

The table goes to stdout; the raw figures to bench/results/serving-<timestamp>.json.

Standard library only at module level: children of this file also run under the MLflow venv.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from _common import clean_env, free_port, percentile, start_server, stop_server, tail

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DEFAULT_MLFLOW_PYTHON = REPO / ".venv-bench-mlflow" / "bin" / "python"
MODEL = "bench-model"
DEPLOYMENT = "bench-api"
FEATURES = 20
TRAIN_ROWS = 5_000
SERVERS = ("plimsoll", "plimsoll-nolog", "bare", "mlflow", "floor")
TITLES = {
    "plimsoll": "Plimsoll (logging on)",
    "plimsoll-nolog": "Plimsoll (logging off)",
    "bare": "bare FastAPI + predict",
    "mlflow": "mlflow models serve",
    "floor": "floor: do-nothing app",
}
UVICORN = {"log_level": "warning", "access_log": False}  # as `plimsoll serve` runs it


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# -- the model and the requests (the same everywhere) ---------------------------------------------


def columns() -> list[str]:
    return [f"f{i}" for i in range(FEATURES)]


def training_data(seed: int) -> tuple[Any, Any]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, (TRAIN_ROWS, FEATURES))
    weights = rng.normal(0.0, 1.0, FEATURES)
    y = (x @ weights + rng.normal(0.0, 0.5, TRAIN_ROWS) > 0).astype("int64")
    return pd.DataFrame(x, columns=columns()), y


def train(seed: int) -> Any:
    """Version 1 is seed 0, version 2 seed 1 (other weights): the same code in both venvs."""
    from sklearn.linear_model import LogisticRegression

    frame, y = training_data(seed)
    return LogisticRegression(max_iter=1_000).fit(frame, y)


def request_rows(rows: int) -> list[list[float]]:
    import numpy as np

    return np.random.default_rng(99).normal(0.0, 1.0, (rows, FEATURES)).round(6).tolist()


def request_body(rows: int) -> bytes:
    return json.dumps({"dataframe_split": {"columns": columns(), "data": request_rows(rows)}}).encode()


# -- children: servers ----------------------------------------------------------------------------


def child_bare(port: int, model_path: str) -> None:
    import joblib
    import pandas as pd
    import uvicorn
    from fastapi import FastAPI, Request

    model = joblib.load(model_path)
    app = FastAPI()

    async def ping() -> dict[str, bool]:
        return {"ok": True}

    async def invocations(request):  # type: ignore[no-untyped-def]
        found = (await request.json())["dataframe_split"]
        frame = pd.DataFrame(found["data"], columns=found["columns"])
        return {"predictions": model.predict(frame).tolist()}

    # Annotations given as objects: this module's `from __future__ import annotations` would leave
    # FastAPI a string it cannot resolve (Request is imported here, not at module level).
    ping.__annotations__ = {"return": dict}
    invocations.__annotations__ = {"request": Request, "return": dict}
    app.get("/ping")(ping)
    app.post("/invocations")(invocations)

    uvicorn.run(app, host="127.0.0.1", port=port, **UVICORN)  # type: ignore[arg-type]


def child_floor(port: int) -> None:
    import uvicorn

    answer = b'{"predictions":[0]}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(answer)).encode())]

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    uvicorn.run(app, host="127.0.0.1", port=port, lifespan="off", **UVICORN)  # type: ignore[arg-type]


def child_plimsoll_nolog(port: int) -> None:
    """`plimsoll serve` (src/plimsoll/cli/serve.py) with no prediction log: the same routing,
    loader, options, access log and uvicorn settings."""
    import uvicorn

    from plimsoll.cli.serve import _structured_access_log, loader, routing_source, trained_in
    from plimsoll.client.client import Client
    from plimsoll.serving.app import Options, build_app

    client = Client()
    source = routing_source(client, "default", DEPLOYMENT, model=f"{MODEL}@production")
    routing = source()
    app = build_app(
        source,
        loader(client, "default", routing.model),
        None,
        options=Options(),
        trained_in=trained_in(client, "default", routing.model),
    )
    _structured_access_log()
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, lifespan="on", **UVICORN)  # type: ignore[arg-type]
    finally:
        client.close()


def child_save_mlflow(path: str) -> None:
    """(MLflow venv) the same model, saved in MLflow's format with its signature."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    frame, _ = training_data(0)
    model = train(0)
    example = frame.head(5)
    mlflow.sklearn.save_model(
        model, path, signature=infer_signature(example, model.predict(example)), input_example=example
    )
    print(json.dumps({"mlflow": mlflow.__version__}), flush=True)


# -- children: the load generator -----------------------------------------------------------------


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes], bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            key, _, value = line.partition(b":")
            headers[key.strip().lower()] = value.strip()
    if b"content-length" in headers:
        body = await reader.readexactly(int(headers[b"content-length"]))
    elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await reader.readexactly(size + 2))
            if size == 0:
                break
        body = b"".join(p[:-2] for p in parts)
    else:
        body = await reader.read()
    return status, headers, body


def child_load(port: int, body_path: str, concurrency: int, seconds: float, warmup: float) -> None:
    """Load one server: `concurrency` keep-alive connections each sending the request as soon as
    the last answer is read. Prints a JSON summary: timed requests/s and latencies (after
    `warmup`), failures and answered requests over the whole run, versions answered."""
    with contextlib.suppress(ImportError):
        import uvloop

        uvloop.install()
    payload = Path(body_path).read_bytes()
    request = (
        f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload
    latencies: list[float] = []
    ok = [0]
    failures: dict[str, int] = {}
    versions: dict[str, int] = {}
    switches: list[tuple[float, str]] = []  # (wall time, version) whenever the answered version changes
    last_version = [""]

    async def caller(start: float, until: float) -> None:
        reader = writer = None
        while time.perf_counter() < until:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                assert reader is not None
                sent = time.perf_counter()
                writer.write(request)
                status, headers, _ = await _response(reader)
                done = time.perf_counter()
                if headers.get(b"connection", b"").lower() == b"close":
                    writer.close()
                    reader = writer = None
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                failures[type(exc).__name__] = failures.get(type(exc).__name__, 0) + 1
                if writer is not None:
                    writer.close()
                reader = writer = None
                await asyncio.sleep(0.01)
                continue
            if status != 200:
                failures[str(status)] = failures.get(str(status), 0) + 1
                continue
            ok[0] += 1
            version = headers.get(b"x-plimsoll-version", b"").decode()
            if version:
                versions[version] = versions.get(version, 0) + 1
                if version != last_version[0]:
                    last_version[0] = version
                    switches.append((time.time(), version))
            if sent >= start:
                latencies.append(done - sent)
        if writer is not None:
            writer.close()

    async def run() -> float:
        begin = time.perf_counter()
        start = begin + warmup
        until = start + seconds
        await asyncio.gather(*(caller(start, until) for _ in range(concurrency)))
        return time.perf_counter() - start

    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    timed = asyncio.run(run())
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
    ms = [s * 1000.0 for s in latencies]
    result: dict[str, Any] = {
        "concurrency": concurrency,
        "seconds": timed,
        "requests": len(ms),
        "requests_per_s": len(ms) / timed if timed > 0 else 0.0,
        "answered": ok[0],
        "failures": sum(failures.values()),
        "failure_kinds": failures,
        "versions": versions,
        "switches": switches,
        "gen_cpu_us_per_request": cpu / max(ok[0], 1) * 1e6,
    }
    if ms:
        result.update(
            p50_ms=percentile(ms, 50),
            p95_ms=percentile(ms, 95),
            p99_ms=percentile(ms, 99),
            mean_ms=statistics.fmean(ms),
            max_ms=max(ms),
        )
    print(json.dumps(result), flush=True)


# -- the parent -----------------------------------------------------------------------------------


def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 120.0) -> None:
    """Wait until `url` answers 200 (Plimsoll's /readyz answers 503 until the model is loaded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} was not ready within {timeout:.0f} s:\n{tail(log_path)}")


def post(port: int, body: bytes) -> tuple[dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations", data=body, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return json.loads(answer.read()), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        raise RuntimeError(f"127.0.0.1:{port} answered {exc.code}: {exc.read()[:2000]!r}") from None


def run_load(port: int, body_path: Path, concurrency: int, seconds: float, warmup: float) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--child", "load", str(port), str(body_path), str(concurrency)]
    cmd += [str(seconds), str(warmup)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, text=True)
    try:
        stdout, _ = proc.communicate(timeout=seconds + warmup + 120)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"the load generator failed with exit code {proc.returncode}")
    result: dict[str, Any] = json.loads(stdout.strip().splitlines()[-1])
    return result


class Servers:
    """The servers of one run, by key: (process, port, log path); stopped at the end."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.running: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}

    def start(self, key: str, cmd: list[str], env: dict[str, str], ready_path: str) -> int:
        port = free_port()
        cmd = [part.replace("{port}", str(port)) for part in cmd]
        log_path = self.tmp / f"{key}.log"
        say(" ".join(cmd))
        proc = start_server(cmd, cwd=self.tmp, env=env, log_path=log_path)
        self.running[key] = (proc, port, log_path)
        wait_ready(f"http://127.0.0.1:{port}{ready_path}", proc, log_path)
        return port

    def port(self, key: str) -> int:
        return self.running[key][1]

    def stop(self, key: str) -> None:
        proc, _, _ = self.running[key]
        stop_server(proc, timeout=30.0)

    def stop_all(self) -> None:
        for proc, _, _ in reversed(list(self.running.values())):
            stop_server(proc)

    def tails(self) -> None:
        for key, (_, _, log_path) in self.running.items():
            say(f"{key} server log (tail):\n{tail(log_path)}")


def mlflow_available(python: Path) -> bool:
    if not python.exists():
        return False
    check = subprocess.run(
        [str(python), "-c", "import mlflow, sklearn, uvicorn"], capture_output=True, timeout=180
    )
    return check.returncode == 0


def prepare(tmp: Path, mlflow_python: Path | None) -> dict[str, Any]:
    """Version 1 registered in a temporary Plimsoll home (alias production), the same fitted
    model as a joblib file for the bare app, and in MLflow's format under the MLflow venv."""
    import joblib

    from plimsoll.client import Client
    from plimsoll.core.config import Settings

    home = tmp / "plimsoll"
    home.mkdir()
    frame, _ = training_data(0)
    model = train(0)
    joblib.dump(model, tmp / "model.joblib")
    client = Client(settings=Settings(home=home))
    try:
        with client.start_run(experiment="bench-serving", capture=False) as run:
            logged = run.log_model(model, "model", input_example=frame.head(5), register_as=MODEL)
        client.registry.set_alias(MODEL, "production", logged.version.version)
    finally:
        client.close()
    found: dict[str, Any] = {"home": home, "joblib": tmp / "model.joblib", "mlflow_model": None}
    if mlflow_python is not None:
        path = tmp / "mlflow-model"
        out = subprocess.run(
            [str(mlflow_python), __file__, "--child", "save-mlflow", str(path)],
            cwd=REPO,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if out.returncode != 0:
            raise RuntimeError(f"saving the MLflow model failed:\n{out.stderr[-3000:]}")
        found["mlflow_model"] = path
        found["mlflow_version"] = json.loads(out.stdout.strip().splitlines()[-1])["mlflow"]
    return found


def serve_registered(serve: list[str]) -> bool:
    """Whether `plimsoll serve` is a command of the installed CLI."""
    found = subprocess.run([*serve, "--help"], capture_output=True, env=clean_env(), timeout=120)
    return found.returncode == 0


def start_all(servers: Servers, prepared: dict[str, Any], mlflow_python: Path | None) -> list[str]:
    bin_dir = Path(sys.executable).parent
    home_env = clean_env(PLIMSOLL_HOME=str(prepared["home"]))
    serve = [str(bin_dir / "plimsoll"), "serve"]
    if not serve_registered(serve):
        # The same function (src/plimsoll/cli/serve.py), run through Typer with the same options.
        say("`plimsoll serve` is not a command of this CLI yet: running plimsoll.cli.serve:serve directly")
        serve = [sys.executable, __file__, "--child", "plimsoll-serve"]
    prepared["serve_command"] = serve
    servers.start(
        "plimsoll",
        [*serve, DEPLOYMENT, "--model", f"{MODEL}@production", "--host", "127.0.0.1", "--port", "{port}"],
        home_env,
        "/readyz",
    )
    servers.start(
        "plimsoll-nolog",
        [sys.executable, __file__, "--child", "plimsoll-nolog", "{port}"],
        home_env,
        "/readyz",
    )
    servers.start(
        "bare",
        [sys.executable, __file__, "--child", "bare", "{port}", str(prepared["joblib"])],
        clean_env(),
        "/ping",
    )
    servers.start("floor", [sys.executable, __file__, "--child", "floor", "{port}"], clean_env(), "/")
    keys = ["plimsoll", "plimsoll-nolog", "bare"]
    if mlflow_python is not None:
        servers.start(
            "mlflow",
            [
                str(mlflow_python.parent / "mlflow"),
                "models",
                "serve",
                "-m",
                str(prepared["mlflow_model"]),
                "--env-manager",
                "local",
                "--host",
                "127.0.0.1",
                "--port",
                "{port}",
                "--workers",
                "1",
            ],
            # Its venv first on PATH, as when activated: it execs `uvicorn` by name.
            clean_env(PATH=f"{mlflow_python.parent}{os.pathsep}{os.environ.get('PATH', '')}"),
            "/ping",
        )
        keys.append("mlflow")
    return [*keys, "floor"]


def agreement(servers: Servers, keys: list[str], body: bytes) -> dict[str, Any]:
    """Every server's predictions for the same 100 rows, against the bare app's."""
    answers = {key: post(servers.port(key), body)[0]["predictions"] for key in keys if key != "floor"}
    reference = answers["bare"]
    return {key: sum(a == b for a, b in zip(found, reference, strict=True)) for key, found in answers.items()}


def cells(
    args: argparse.Namespace, servers: Servers, keys: list[str], bodies: dict[int, Path]
) -> list[dict[str, Any]]:
    """Every (rows, concurrency) cell, each server back to back; rounds rotate the order."""
    found = []
    for rows in (1, 100):
        for concurrency in (1, 8):
            cell: dict[str, Any] = {"rows": rows, "concurrency": concurrency, "rounds": {k: [] for k in keys}}
            for round_ in range(args.rounds):
                order = keys[round_ % len(keys) :] + keys[: round_ % len(keys)]
                for key in order:
                    say(f"rows {rows}, c={concurrency}, round {round_ + 1}: {key} ...")
                    result = run_load(servers.port(key), bodies[rows], concurrency, args.seconds, args.warmup)
                    result["loadavg"] = loadavg()
                    cell["rounds"][key].append(result)
            cell["servers"] = {key: summary(results) for key, results in cell["rounds"].items()}
            found.append(cell)
    return found


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median over rounds of each figure; failures and answers summed."""
    out: dict[str, Any] = {}
    for name in ("requests_per_s", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "gen_cpu_us_per_request"):
        values = [r[name] for r in results if name in r]
        if values:
            out[name] = statistics.median(values)
    out["failures"] = sum(r["failures"] for r in results)
    out["answered"] = sum(r["answered"] for r in results)
    out["requests_per_s_rounds"] = [r["requests_per_s"] for r in results]
    return out


def alias_move(
    args: argparse.Namespace, servers: Servers, prepared: dict[str, Any], body: Path
) -> dict[str, Any]:
    """Load Plimsoll at concurrency 8 with one-row requests while version 2 is registered and the
    alias moves 2 -> 1 -> 2; every answer's version is read from X-Plimsoll-Version."""
    from plimsoll.client import Client
    from plimsoll.core.config import Settings

    seconds = args.alias_seconds
    result: dict[str, Any] = {"moves": []}
    holder: dict[str, Any] = {}

    def load() -> None:
        try:
            holder["load"] = run_load(servers.port("plimsoll"), body, 8, seconds, 0.0)
        except BaseException as exc:  # said below
            holder["error"] = exc

    thread = threading.Thread(target=load)
    thread.start()
    client = Client(settings=Settings(home=prepared["home"]))
    try:
        time.sleep(1.0)
        frame, _ = training_data(1)
        started = time.time()
        with client.start_run(experiment="bench-serving", capture=False) as run:
            logged = run.log_model(train(1), "model", input_example=frame.head(5), register_as=MODEL)
        result["register_seconds"] = time.time() - started
        gap = max((seconds - 2.0 - result["register_seconds"]) / 3.0, 1.5)
        new = logged.version.version
        for version in (new, 1, new):
            at = time.time()
            client.registry.set_alias(MODEL, "production", version, reason="bench/serving.py alias move")
            result["moves"].append({"at": at, "version": version})
            time.sleep(gap)
    finally:
        client.close()
        thread.join()
    if "error" in holder:
        raise holder["error"]
    found = holder["load"]
    result["load"] = {k: v for k, v in found.items() if k != "switches"}
    result["switches"] = found["switches"]
    # How long each move took to reach the answers: the first answer of the new version after it.
    for move in result["moves"]:
        after = [at for at, v in found["switches"] if at >= move["at"] and v == str(move["version"])]
        move["reached_after_s"] = after[0] - move["at"] if after else None
    result["final_version"] = found["switches"][-1][1] if found["switches"] else None
    result["ok"] = (
        found["failures"] == 0
        and result["final_version"] == str(new)
        and all(m["reached_after_s"] is not None for m in result["moves"])
    )
    return result


def server_metrics(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("plimsoll_serving_log_") or line.startswith("plimsoll_serving_shadow_dropped"):
            name, _, value = line.rpartition(" ")
            found[name] = float(value)
    return found


def logged_rows(prepared: dict[str, Any]) -> dict[str, int]:
    from plimsoll.client import Client
    from plimsoll.core.config import Settings

    client = Client(settings=Settings(home=prepared["home"]))
    try:
        segments = client.monitoring.segments("predictions", model=MODEL, deployment=DEPLOYMENT)
        found: dict[str, int] = {"total": sum(segment.rows for segment in segments)}
        for segment in segments:
            key = f"version {segment.version} {segment.role}".strip()
            found[key] = found.get(key, 0) + segment.rows
        return found
    finally:
        client.close()


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    mlflow_python = None if args.no_mlflow else args.mlflow_python
    if mlflow_python is not None and not mlflow_available(mlflow_python):
        say(f"MLflow not installed at {mlflow_python}: see bench/requirements-mlflow.txt; skipped")
        mlflow_python = None
    result: dict[str, Any] = {"mlflow": "skipped" if mlflow_python is None else str(mlflow_python)}
    say("training and registering the model ...")
    prepared = prepare(tmp, mlflow_python)
    result["mlflow_version"] = prepared.get("mlflow_version")
    bodies = {}
    for rows in (1, 100):
        bodies[rows] = tmp / f"body-{rows}.json"
        bodies[rows].write_bytes(request_body(rows))
    result["body_bytes"] = {str(rows): path.stat().st_size for rows, path in bodies.items()}
    servers = Servers(tmp)
    try:
        keys = start_all(servers, prepared, mlflow_python)
        result["servers"] = keys
        result["plimsoll_command"] = prepared["serve_command"]
        result["agreement_of_100"] = agreement(servers, keys, bodies[100].read_bytes())
        sent_rows = 100  # the agreement request to the logging server
        result["cells"] = cells(args, servers, keys, bodies)
        for cell in result["cells"]:
            sent_rows += cell["rows"] * cell["servers"]["plimsoll"]["answered"]
        say("alias move under load ...")
        result["alias_move"] = alias_move(args, servers, prepared, bodies[1])
        sent_rows += result["alias_move"]["load"]["answered"]
        result["plimsoll_metrics"] = server_metrics(servers.port("plimsoll"))
        say("stopping the Plimsoll server (its log flushed) and reading its predictions back ...")
        servers.stop("plimsoll")
        logged = logged_rows(prepared)
        result["logging_check"] = {
            "answered_rows": sent_rows,
            "logged_rows": logged,
            "missing": sent_rows - logged["total"],
            "server_log_errors": [
                line
                for line in tail(servers.running["plimsoll"][2], 100_000).splitlines()
                if "not logged" in line or " ERROR " in line
            ][:20],
        }
        return result
    except BaseException:
        servers.tails()
        raise
    finally:
        servers.stop_all()


# -- the report -----------------------------------------------------------------------------------


def print_report(result: dict[str, Any]) -> None:
    print(
        "\nServing: one LogisticRegression (20 features), one process per server, keep-alive "
        f"callers; MLflow: {result['mlflow_version'] or 'skipped'}"
    )
    print(f"agreement with the bare app on 100 rows: {result['agreement_of_100']}")
    head = (
        f"{'rows':>4} {'c':>2}  {'server':<24} {'req/s':>8} {'rows/s':>9} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'fail':>5} {'gen µs/req':>10}"
    )
    print(head)
    for cell in result["cells"]:
        rows, c, found = cell["rows"], cell["concurrency"], cell["servers"]
        for key, s in found.items():
            print(
                f"{rows:>4} {c:>2}  {TITLES[key]:<24} {s['requests_per_s']:>8,.0f} "
                f"{s['requests_per_s'] * rows:>9,.0f} {s.get('p50_ms', float('nan')):>7.2f} "
                f"{s.get('p95_ms', float('nan')):>7.2f} {s.get('p99_ms', float('nan')):>7.2f} "
                f"{s['failures']:>5} {s['gen_cpu_us_per_request']:>10.0f}"
            )
        pl = found["plimsoll"]
        notes = [
            f"Plimsoll/bare {pl['requests_per_s'] / found['bare']['requests_per_s']:.2f}x (target >= 0.8)"
        ]
        if "mlflow" in found and found["mlflow"]["requests_per_s"]:
            notes.append(
                f"Plimsoll/MLflow {pl['requests_per_s'] / found['mlflow']['requests_per_s']:.2f}x (target >= 3)"
            )
        notes.append(
            f"p99 added by logging {pl['p99_ms'] - found['plimsoll-nolog']['p99_ms']:+.2f} ms (target <= 1)"
        )
        print(f"{'':>9}{'; '.join(notes)}")
    move = result["alias_move"]
    load = move["load"]
    reached = ", ".join(
        f"->{m['version']} in {m['reached_after_s']:.2f} s"
        if m["reached_after_s"] is not None
        else f"->{m['version']} never"
        for m in move["moves"]
    )
    print(
        f"alias move under load (c=8, one row): {load['answered']:,} answered, {load['failures']} failed "
        f"{load['failure_kinds'] or ''}, versions {load['versions']}; moves {reached}; "
        f"{'OK' if move['ok'] else 'NOT OK'} (version 2 registered in {move['register_seconds']:.1f} s under load)"
    )
    check = result["logging_check"]
    print(
        f"logging: {check['answered_rows']:,} rows answered by the logging server, "
        f"{check['logged_rows']['total']:,} in its monitoring log ({check['logged_rows']}); "
        f"missing {check['missing']:,}; server counters {result['plimsoll_metrics']}"
    )
    for line in check["server_log_errors"]:
        print(f"  server log: {line}")


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


def child(argv: list[str]) -> None:
    what, *rest = argv
    if what == "load":
        child_load(int(rest[0]), rest[1], int(rest[2]), float(rest[3]), float(rest[4]))
    elif what == "bare":
        child_bare(int(rest[0]), rest[1])
    elif what == "floor":
        child_floor(int(rest[0]))
    elif what == "plimsoll-serve":
        import typer

        from plimsoll.cli.serve import serve

        sys.argv = ["plimsoll serve", *rest]
        typer.run(serve)
    elif what == "plimsoll-nolog":
        child_plimsoll_nolog(int(rest[0]))
    elif what == "save-mlflow":
        child_save_mlflow(rest[0])
    else:
        raise SystemExit(f"unknown child {what!r}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short cells, one round, for development")
    parser.add_argument("--seconds", type=float, default=None, help="timed seconds a server a cell (20)")
    parser.add_argument("--warmup", type=float, default=None, help="untimed seconds before each (2)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of every cell (3)")
    parser.add_argument("--alias-seconds", type=float, default=None, help="the alias move's load (30)")
    parser.add_argument("--mlflow-python", type=Path, default=DEFAULT_MLFLOW_PYTHON)
    parser.add_argument("--no-mlflow", action="store_true", help="without MLflow")
    parser.add_argument("--results", type=Path, default=BENCH / "results")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:  # everything after it is the child's (options included)
        child(argv[1:])
        return 0
    args = parser.parse_args(argv)
    for name, full, quick in (
        ("seconds", 20.0, 3.0),
        ("warmup", 2.0, 0.5),
        ("rounds", 3, 1),
        ("alias_seconds", 30.0, 10.0),
    ):
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    info = machine()
    say(f"machine: {info}")
    results: dict[str, Any] = {
        "machine": info,
        "command": [sys.executable, *sys.argv],
        "settings": {k: getattr(args, k) for k in ("quick", "seconds", "warmup", "rounds", "alias_seconds")},
    }
    with tempfile.TemporaryDirectory(prefix="plimsoll-bench-serving-") as name:
        results["serving"] = run(args, Path(name))
    results["loadavg_at_end"] = loadavg()
    print_report(results["serving"])
    busiest = max(v for v in (info["loadavg_at_start"], results["loadavg_at_end"], 0.0) if v is not None)
    if busiest > (os.cpu_count() or 1):
        print(
            f"note: the machine was busy with other work (1-min load average {info['loadavg_at_start']} "
            f"at the start, {results['loadavg_at_end']} at the end)"
        )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args.results.mkdir(parents=True, exist_ok=True)
    report = args.results / f"serving-{stamp}.json"
    report.write_text(json.dumps(results, indent=2, default=str))
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
