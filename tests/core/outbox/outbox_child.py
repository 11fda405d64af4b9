"""A consumer process for the outbox tests: `outbox_child.py URL MODE NAME LOG [BLOCK]`.

MODE is `work` or `broadcast`. Each handled event is recorded in LOG as `start <id>` before and
`done <id>` after; if BLOCK names a file, the handler waits, after `start`, until that file
exists (so a test can kill the process between the commit and the end of the delivery). `ready`
is written once the runner runs. The process runs until killed.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from outbox_helpers import test_catalog

from plimsoll.core.db import Database
from plimsoll.core.outbox import ConsumerRunner, Event, Outbox


def main() -> None:
    url, mode, name, log_path, block = sys.argv[1:6]
    log = open(log_path, "a", buffering=1)  # noqa: SIM115

    def record(line: str) -> None:
        log.write(line + "\n")
        log.flush()
        os.fsync(log.fileno())

    def handle(event: Event) -> None:
        record(f"start {event.id}")
        while block and not Path(block).exists():
            time.sleep(0.02)
        record(f"done {event.id}")

    outbox = Outbox(Database(url), test_catalog())
    runner = ConsumerRunner(outbox, poll_interval=0.1)
    if mode == "work":
        runner.add_work(name, handle, lease_ms=1500)
    else:
        runner.add_broadcast(name, handle)
    runner.start()
    record("ready")
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
