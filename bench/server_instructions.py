"""What the server spends on workload (c), counted in instructions rather than seconds.

Wall-clock figures on a shared VM move by ±30 % from one run to the next (bare round trip 0.27-0.51 ms
on the same machine in one afternoon), which hides a 10 % change. Callgrind counts the instructions
the server process executes (every thread: request handling, event consumers, job worker) and gives
the same count for the same work whatever else the machine is doing. It answers "does this commit
make the server do more work per run?", not "how long does a run take".

    .venv/bin/python bench/server_instructions.py --runs 200
    /path/to/other/checkout/.venv/bin/python bench/server_instructions.py --runs 200   # a before

Run it under the venv of the checkout to measure: the server and the SDK both come from that venv.
The server starts under `valgrind --tool=callgrind` with instrumentation off; it is switched on
for the timed runs only, left on until the server's consumers have caught up on the runs' events,
and the total (Ir) is divided by the runs. Needs valgrind (on every machine of this kind).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import plimsoll
from _common import clean_env, free_port, run_data, run_name, start_server, stop_server, wait_http
from plimsoll import Client


def callgrind(pid: int, *args: str) -> str:
    done = subprocess.run(
        ["callgrind_control", *args, str(pid)], capture_output=True, text=True, check=True, timeout=600
    )
    return done.stdout


def create_runs(client: Client, experiment: str, first: int, count: int) -> None:
    for i in range(first, first + count):
        params, metrics, tags = run_data(i)
        run = client.start_run(experiment, name=run_name(i), params=params, tags=tags, capture=False)
        run.log_metrics(metrics, step=0)
        run.end(wait=True)
    client.flush()


def total_instructions(dump: Path) -> int:
    total = 0
    for part in dump.parent.glob(dump.name + "*"):
        match = re.search(r"^summary:\s+(\d+)", part.read_text(errors="replace"), re.MULTILINE)
        if match:
            total += int(match.group(1))
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="runs counted (default 200)")
    parser.add_argument("--warmup", type=int, default=50, help="runs before counting (default 50)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds to let consumers catch up")
    parser.add_argument("--keep", type=Path, default=None, help="copy the callgrind dump here")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        print("valgrind not found", file=sys.stderr)
        return 2
    plimsoll_bin = Path(sys.executable).parent / "plimsoll"
    with tempfile.TemporaryDirectory(prefix="plimsoll-ir-") as tmp_name:
        tmp = Path(tmp_name)
        home = tmp / "home"
        home.mkdir()
        port = free_port()
        dump = tmp / "callgrind.out"
        cmd = [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={dump}",
            str(plimsoll_bin), "server", "--host", "127.0.0.1", "--port", str(port), "--home", str(home),
        ]  # fmt: skip
        log = tmp / "server.log"
        proc = start_server(cmd, cwd=home, env=clean_env(PYTHONMALLOC="malloc"), log_path=log)
        try:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc, log, timeout=600)
            client = Client(f"http://127.0.0.1:{port}")
            client.create_experiment("ir")
            create_runs(client, "ir", 0, args.warmup)
            time.sleep(args.settle)  # the warm-up's events consumed before counting starts
            callgrind(proc.pid, "-i", "on")
            started = time.monotonic()
            create_runs(client, "ir", args.warmup, args.runs)
            seconds = time.monotonic() - started
            time.sleep(args.settle)
            callgrind(proc.pid, "-d")
            instructions = total_instructions(dump)
            if args.keep is not None:
                for part in dump.parent.glob(dump.name + "*"):
                    shutil.copy(part, args.keep.with_name(args.keep.name + part.name[len(dump.name) :]))
        finally:
            stop_server(proc, timeout=120)
    result = {
        "plimsoll": plimsoll.__version__ if hasattr(plimsoll, "__version__") else "?",
        "source": str(Path(plimsoll.__file__).resolve().parent),
        "runs": args.runs,
        "instructions": instructions,
        "instructions_per_run": instructions / args.runs,
        "seconds_under_valgrind": seconds,
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
