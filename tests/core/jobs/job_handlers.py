"""Handlers for the job tests, importable by dotted path ("job_handlers:record") in worker
processes and in the child processes of CPU-bound jobs (the tests put this folder on the path)."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any


def record(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Leaves one file per run, named by job id and attempt: the tests count runs from them."""
    folder = Path(payload["dir"])
    name = f"{context.job_id}.{context.attempt}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
    (folder / name).write_text(str(payload.get("n", "")))
    return {"pid": os.getpid()}


def block_until_released(payload: dict[str, Any], context: Any) -> dict[str, Any]:
    """Says it started (a file named by job id, attempt and pid), then waits for the release file."""
    folder = Path(payload["dir"])
    (folder / f"started.{context.job_id}.{context.attempt}.{os.getpid()}").write_text("")
    release = folder / "release"
    deadline = time.monotonic() + 120
    while not release.exists():
        if time.monotonic() > deadline or context.cancelled:
            raise RuntimeError("never released")
        time.sleep(0.02)
    (folder / f"done.{context.job_id}.{context.attempt}.{os.getpid()}").write_text("")
    return {"pid": os.getpid()}


def report_pid(payload: Any, context: Any) -> dict[str, Any]:
    total = sum(i * i for i in range(200_000))  # a little CPU, as a CPU-bound job would
    context.progress({"done": 1})
    return {"pid": os.getpid(), "total": total}


def fail_always(payload: Any, context: Any) -> None:
    raise ValueError("this handler always fails")


def sleep_until_cancelled(payload: Any, context: Any) -> str:
    deadline = time.monotonic() + 60
    while not context.cancelled and time.monotonic() < deadline:
        time.sleep(0.01)
    context.raise_if_cancelled()
    return "not cancelled"


def ignore_cancel(payload: dict[str, Any], context: Any) -> str:
    time.sleep(float(payload.get("sleep_s", 1.0)))
    return "slept"


def hold_briefly(payload: dict[str, Any], context: Any) -> None:
    """Records when it ran (start and end, wall clock) so that tests can count overlaps."""
    started = time.time()
    time.sleep(float(payload.get("hold_s", 0.05)))
    name = f"{context.job_id}.{context.attempt}.{os.getpid()}"
    (Path(payload["dir"]) / name).write_text(f"{started} {time.time()}")
