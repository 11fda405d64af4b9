"""SQLite WAL checkpoints on a thread of their own.

In WAL mode a commit appends its pages to the write-ahead log; a checkpoint later copies them into
the database file and syncs it. SQLite's default runs that checkpoint inside whichever commit
pushes the log past 1,000 pages, so one request in a few dozen pays for everyone's pages: measured
here, a tracking run's commit appends ~65 pages and the inline checkpoints cost ~0.7 ms per run on
average, with 10 ms spikes. Connections are opened with a far higher autocheckpoint (a safety net
should this thread be gone) and this thread checkpoints shortly after writes, once for a whole
burst of commits (a page written by many commits is copied once).

A PASSIVE checkpoint waits for no one, but under a steady stream of commits it never catches the
log's end, and the log is only reset (written from its start again) after a checkpoint that did.
So once the log is past RESTART_AFTER_PAGES a RESTART follows the passive pass, allowed to wait
RESTART_WAIT_MS at most: while it waits, new commits wait too, so it gives up quickly and backs
off when readers keep it busy.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref

log = logging.getLogger("plimsoll.db")

# After a commit, wait this long for more before checkpointing: bursts share one checkpoint.
CHECKPOINT_DELAY_S = 0.2
# Past this many pages (16 MiB at SQLite's default page size) the log is reset.
RESTART_AFTER_PAGES = 4096
# How long a RESTART may hold commits back waiting for readers before it gives up for now.
RESTART_WAIT_MS = 20
# Connections' own autocheckpoint: only reached when this thread is not keeping up or is gone.
SAFETY_NET_AUTOCHECKPOINT_PAGES = 20_000

_live: weakref.WeakSet[WalCheckpointer] = weakref.WeakSet()


class WalCheckpointer:
    """Checkpoints one SQLite database file after writes; `written()` after each commit."""

    def __init__(self, path: str, *, delay_s: float | None = None) -> None:
        self.path = os.path.abspath(path)  # the thread starts later, maybe after a chdir
        self.delay_s = CHECKPOINT_DELAY_S if delay_s is None else delay_s
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._closed = False
        _live.add(self)

    def written(self) -> None:
        thread = self._thread
        if thread is None or not thread.is_alive():  # first write, a forked child, or it died
            self._start()
        self._wake.set()

    def stop(self) -> None:
        """Checkpoint what is left and end the thread; later writes start none."""
        with self._lock:
            self._closed = True
            thread, stop, wake = self._thread, self._stop, self._wake
            self._thread = None
        if thread is not None and thread.is_alive():
            stop.set()
            wake.set()
            thread.join(timeout=10)

    def _start(self) -> None:
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            self._wake, self._stop = threading.Event(), threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(self._wake, self._stop), name="plimsoll-wal-checkpoint", daemon=True
            )
            self._thread.start()

    def _after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and its lock may have been held at the fork.
        self._lock = threading.Lock()
        self._thread = None

    def _run(self, wake: threading.Event, stop: threading.Event) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        backoff = 1
        try:
            conn.execute(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
            while not stop.is_set():
                wake.wait()
                stop.wait(self.delay_s * backoff)
                wake.clear()
                backoff = 1 if self._checkpoint(conn) else min(backoff * 2, 64)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> bool:
        """One pass; False when readers kept the log from being reset (so wait longer next time)."""
        try:
            _busy, log_pages, _copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if log_pages <= RESTART_AFTER_PAGES:
                return True
            # What the passive pass left (the commits that came during it) is little to copy.
            busy, _log, _copied = conn.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            return not busy
        except sqlite3.Error as exc:  # another process is checkpointing; the next commit retries
            log.debug("WAL checkpoint of %s skipped: %s", self.path, exc)
            return False


def _reset_after_fork() -> None:
    for checkpointer in list(_live):
        checkpointer._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_after_fork)
