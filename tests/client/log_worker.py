"""A process that logs through the SDK, for the concurrency and crash tests.

usage: python log_worker.py WORKER RUNS POINTS [--sync-log FILE]

With --sync-log, every point is logged synchronously and its step is appended to FILE only after
the SDK returned, i.e. after the server acknowledged it."""

from __future__ import annotations

import sys

import plimsoll as pl


def main() -> None:
    worker, runs, points = (int(arg) for arg in sys.argv[1:4])
    sync_log = sys.argv[5] if len(sys.argv) > 5 and sys.argv[4] == "--sync-log" else None
    for index in range(runs):
        with pl.start_run("concurrency", name=f"w{worker}-r{index}", capture=False) as run:
            run.log_params({"worker": worker, "index": index})
            if sync_log:
                with open(sync_log, "a") as acked:
                    for step in range(points):
                        run.log_metric("acked", float(step), step=step, synchronous=True)
                        acked.write(f"{run.id} {step}\n")
                        acked.flush()
            else:
                for step in range(points):
                    run.log_metrics({"loss": 1.0 / (step + 1), "acc": step / points}, step=step)
            run.set_tags({"done": "yes"})
    pl.flush()
    print("ok", flush=True)


if __name__ == "__main__":
    main()
