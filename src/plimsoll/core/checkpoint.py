"""SQLite WAL checkpoints on a thread of their own.

In WAL mode a commit appends its pages to the write-ahead log; a checkpoint later copies them into
the database file and syncs it. SQLite's default runs that checkpoint inside whichever commit
pushes the log past 1,000 pages, so one request in a few dozen pays for everyone's pages: measured
here, a tracking run's commit appends ~65 pages and the inline checkpoints cost ~0.7 ms per run on
average, with 10 ms spikes. Connections are opened with `wal_autocheckpoint=0` instead, and this
thread checkpoints shortly after writes, once for a whole burst of commits (a page written by
many commits is copied once).

A PASSIVE checkpoint waits for no one, but under a steady stream of commits it never catches the
log's end, and the log is only reset (written from its start again) once a checkpoint has. So
when the log has grown past RESTART_AFTER_PAGES, a RESTART checkpoint follows the passive one:
it holds new commits back only while it copies what the passive pass left, and lets the next
commit start the log afresh.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger("plimsoll.db")

# After a commit, wait this long for more before checkpointing: bursts share one checkpoint.
CHECKPOINT_DELAY_S = 0.2
# Past this many pages (16 MiB at SQLite's default page size) the log is reset.
RESTART_AFTER_PAGES = 4096
# A log that grew while readers held old pages is cut back to this size once it is reset.
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
# How long a RESTART checkpoint may wait for readers and writers before it gives up for now.
RESTART_WAIT_MS = 2000


class WalCheckpointer:
    """Checkpoints one SQLite database file after writes; `written()` after each commit."""

    def __init__(self, path: str, *, delay_s: float | None = None) -> None:
        self.path = path
        self.delay_s = CHECKPOINT_DELAY_S if delay_s is None else delay_s
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    def written(self) -> None:
        if self._thread is None or self._pid != os.getpid():  # first write, or a forked child
            self._start()
        self._wake.set()

    def stop(self) -> None:
        """Checkpoint what is left and end the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and self._pid == os.getpid():
            self._stop.set()
            self._wake.set()
            thread.join(timeout=10)

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            self._wake, self._stop = threading.Event(), threading.Event()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name="plimsoll-wal-checkpoint", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        wake, stop = self._wake, self._stop
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            while not stop.is_set():
                wake.wait()
                stop.wait(self.delay_s)
                wake.clear()
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            _busy, log_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if log_pages > RESTART_AFTER_PAGES:
                conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
        except sqlite3.Error as exc:  # another process is checkpointing; the next commit retries
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
