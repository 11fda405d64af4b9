"""A worker process for the multi-process tests: `python worker_process.py DATABASE_URL LEASE_S`.

Registers the test handlers, runs a Worker until SIGTERM (graceful stop) or SIGKILL, and prints
"ready" once it is polling.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from plimsoll.core.db import Database
from plimsoll.core.jobs import HandlerRegistry, JobService, Worker


def build_registry() -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.register("record", "job_handlers:record", max_attempts=3, backoff_base_s=0.05)
    registry.register("block", "job_handlers:block_until_released", max_attempts=3, backoff_base_s=0.05)
    registry.register("tick", "job_handlers:record", max_attempts=1)
    registry.register("hold", "job_handlers:hold_briefly", max_attempts=1)
    return registry


def main() -> None:
    url, lease_s = sys.argv[1], float(sys.argv[2])
    db = Database(url)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    worker = Worker(
        JobService(db, build_registry()), threads=4, poll_interval_s=0.05, lease_s=lease_s
    ).start()
    print("ready", worker.name, flush=True)
    stopped.wait()
    worker.stop(timeout_s=5)
    db.dispose()


if __name__ == "__main__":
    main()
