"""CPU-bound handlers run in a child process of their own, never on the worker's threads, so a
heavy job adds no latency to the requests a server's threads answer (and holds no GIL there).

One process per job rather than a shared pool: a job that times out, is cancelled and ignores it,
or outlives its worker's stop can then be killed alone, which a `ProcessPoolExecutor` cannot do
to one of its tasks. The child is started with `spawn` (forking a process that runs threads is
unsafe) and imports the handler by its dotted path. The start-up cost (a fresh interpreter) is
small next to a job worth sending to another process.

The child talks back over a pipe: ("progress", value), then ("result", value), ("cancelled",
reason) or ("error", traceback). The parent keeps renewing the lease while the child lives.
"""

from __future__ import annotations

import multiprocessing
import traceback
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Event
from typing import Any

from plimsoll.core.jobs.context import JobCancelled, JobContext
from plimsoll.core.jobs.registry import resolve_handler

_SPAWN = multiprocessing.get_context("spawn")
_POLL_S = 0.05
_KILL_WAIT_S = 5.0


class ChildJobError(Exception):
    """A handler failed in its child process; the message carries the child's traceback."""


def run_in_child(handler_path: str, payload: Any, context: JobContext) -> Any:
    receiver, sender = _SPAWN.Pipe(duplex=False)
    cancel_event = _SPAWN.Event()
    process = _SPAWN.Process(
        target=_child_main,
        args=(handler_path, payload, context.job_id, context.attempt, sender, cancel_event),
        name=f"plimsoll-job-{context.job_id}",
        daemon=True,  # dies with the worker process
    )
    process.start()
    sender.close()  # the child holds the only writing end: EOF once it exits
    try:
        while True:
            if context.cancelled:
                cancel_event.set()
            if context.abandoned.is_set():
                raise JobCancelled(context.cancel_reason or "abandoned")
            if not receiver.poll(_POLL_S):
                continue
            try:
                message, value = receiver.recv()
            except EOFError:
                raise ChildJobError(
                    f"the job's process exited with code {process.exitcode} before answering"
                ) from None
            if message == "progress":
                context.progress(value)
            elif message == "result":
                return value
            elif message == "cancelled":
                raise JobCancelled(value)
            else:
                raise ChildJobError(value)
    finally:
        if process.is_alive():
            process.kill()
        process.join(_KILL_WAIT_S)
        receiver.close()


class ChildContext:
    """The child's side of JobContext: same names, talking to the parent over the pipe."""

    def __init__(self, job_id: str, attempt: int, sender: Connection, cancel_event: Event) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self._sender = sender
        self._cancel_event = cancel_event

    @property
    def cancelled(self) -> bool:
        return self._cancel_event.is_set()

    @property
    def cancel_reason(self) -> str | None:
        return "cancel requested" if self.cancelled else None

    def raise_if_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled("cancel requested")

    def heartbeat(self) -> None:
        """Nothing to do: the parent renews the lease for as long as this process lives."""

    def progress(self, value: Any) -> None:
        self._sender.send(("progress", value))


def _child_main(
    handler_path: str, payload: Any, job_id: str, attempt: int, sender: Connection, cancel_event: Event
) -> None:
    context = ChildContext(job_id, attempt, sender, cancel_event)
    try:
        result = resolve_handler(handler_path)(payload, context)
    except JobCancelled as exc:
        sender.send(("cancelled", str(exc)))
    except BaseException:
        sender.send(("error", traceback.format_exc()))
    else:
        sender.send(("result", result))
    finally:
        sender.close()
