"""A process that logs to a server which goes away while it runs, for the spool tests.

usage: python spool_worker.py URL DIR MODE

It starts a run and waits until DIR/go exists (the test stops the server meanwhile), then logs
POINTS metric points, a param, a tag and an artifact, and ends the run. MODE "exit" then exits
(its buffered writes go to the spool at exit); MODE "hang" says "logged" and waits to be killed.
It writes the run's id to DIR/run_id."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import plimsoll as pl

POINTS = 50


def main() -> None:
    url, folder, mode = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    pl.set_default_client(pl.Client(url, retry_for=0.5, flush_interval=0.05))
    run = pl.start_run("spooled", capture=False)
    run.flush()
    (folder / "run_id").write_text(run.id)
    print("ready", flush=True)
    while not (folder / "go").exists():
        time.sleep(0.05)
    for step in range(POINTS):
        run.log_metric("loss", 1.0 / (step + 1), step=step)
    run.log_param("lr", 0.1)
    run.set_tag("phase", "offline")
    (folder / "weights.bin").write_bytes(b"w" * 5000)
    run.log_artifact(folder / "weights.bin", wait=False)
    run.end(wait=False)
    print("logged", flush=True)
    if mode == "hang":
        time.sleep(3600)


if __name__ == "__main__":
    main()
