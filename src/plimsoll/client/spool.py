"""The spool: writes the server has not acknowledged, kept on disk so that no process loses them.

A process writes its spool file only when it has to: while the server is unreachable (so that a
process killed during an outage leaves its writes behind) and at exit if writes are still waiting.
The file holds every unacknowledged batch, rewritten whole (atomically) as batches are acknowledged,
and deleted once none is left. While its process lives the file is locked; a file nobody holds is
adopted by the next process that logs to the same destination, or by `plimsoll sync`.

Layout, under the spool directory (PLIMSOLL_SPOOL_DIR, by default ~/.plimsoll/spool):

    <destination>/<name>.jsonl    a header line, then one batch a line (see `Batch.to_json`)
    <destination>/<name>.lock     held (flock) by the process the file belongs to
    <destination>/<name>.files/   the content of the artifacts still to upload

Nothing in a spool is a credential: the token is the sending process's own. Whatever is sent twice
(a batch acknowledged just before its process died) is stored once: batches and metric points are
idempotent on the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from blake3 import blake3

from plimsoll.client.wire import Batch
from plimsoll.core.ids import new_id, now_ms

log = logging.getLogger("plimsoll.client")

FORMAT = "plimsoll-spool"
VERSION = 1


def destination_dir(root: Path, destination: str) -> Path:
    """One folder per server (or store), named readably and made unique by a digest."""
    readable = re.sub(r"[^A-Za-z0-9.]+", "-", destination.split("://", 1)[-1]).strip("-")[:48]
    return root / f"{readable}-{blake3(destination.encode()).hexdigest()[:12]}"


@dataclass
class SpoolFile:
    """Another process's spool file, locked by us while we take its batches over."""

    data: Path
    lock_fd: int

    @property
    def files(self) -> Path:
        return self.data.with_suffix(".files")

    def remove(self) -> None:
        _remove(self.data, self.files, self.data.with_suffix(".lock"))
        os.close(self.lock_fd)


class Spool:
    """This process's spool file for one destination; nothing exists on disk until `save`."""

    def __init__(self, root: Path, destination: str) -> None:
        self.destination = destination
        self.dir = destination_dir(root, destination)
        name = f"{now_ms()}-{os.getpid()}-{new_id()[-8:]}"
        self.data = self.dir / f"{name}.jsonl"
        self.files = self.dir / f"{name}.files"
        self._lock_fd: int | None = None

    @property
    def exists(self) -> bool:
        return self._lock_fd is not None

    def keep_uploads(self, batches: list[Batch]) -> None:
        """Give every artifact still to upload a copy of its own in the spool: the file it came
        from may change or go before it is sent."""
        if self._lock_fd is None:
            _make_private_dir(self.dir)
            self._lock_fd = _lock(self.data.with_suffix(".lock"))
        kept: set[str] = set()
        for upload in (u for batch in batches for u in batch.uploads if not u.done):
            name = upload.spool_name or new_id()
            target = self.files / name
            if upload.source != target:
                _make_private_dir(self.files)
                _store(upload.source, target, self.dir.parent)
                upload.source, upload.spool_name = target, name
            kept.add(name)
        if self.files.exists():
            for stale in self.files.iterdir():
                if stale.name not in kept:
                    stale.unlink(missing_ok=True)

    def write(self, records: list[dict[str, Any]]) -> Path:
        """Replace the file's batches with these (`Batch.to_json`), atomically."""
        header = {"format": FORMAT, "version": VERSION, "destination": self.destination, "pid": os.getpid()}
        lines = [orjson.dumps(header)] + [orjson.dumps(record) for record in records]
        partial = self.data.with_suffix(".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(b"\n".join(lines) + b"\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, self.data)
        return self.data

    def remove(self) -> None:
        """Everything in it was acknowledged."""
        if self._lock_fd is None:
            return
        _remove(self.data, self.files, self.data.with_suffix(".lock"))
        os.close(self._lock_fd)
        self._lock_fd = None

    def forget_after_fork(self) -> None:
        """A forked child neither owns nor may delete its parent's file."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def claim_others(self) -> tuple[list[Batch], list[SpoolFile]]:
        """The batches of every spool file for this destination that no live process holds, with
        the files, locked by us until our own spool holds their batches (then `remove` them)."""
        batches: list[Batch] = []
        claimed: list[SpoolFile] = []
        for data in self._others():
            fd = _try_lock(data.with_suffix(".lock"))
            if fd is None:
                continue  # its process is alive: it sends them itself
            found = SpoolFile(data, fd)
            try:
                loaded = read(data, self.destination)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                log.error("Plimsoll: spool file %s cannot be read (%s); left where it is", data, exc)
                os.close(fd)
                continue
            if loaded is None:  # gone meanwhile (its lock file with it), or another destination's
                if not data.exists():
                    data.with_suffix(".lock").unlink(missing_ok=True)
                os.close(fd)
                continue
            batches.extend(loaded)
            claimed.append(found)
        return batches, claimed

    def _others(self) -> Iterator[Path]:
        if not self.dir.is_dir():
            return
        for data in sorted(self.dir.glob("*.jsonl")):
            if data != self.data:
                yield data


def read(data: Path, destination: str) -> list[Batch] | None:
    try:
        lines = data.read_bytes().splitlines()
    except FileNotFoundError:
        return None
    header: dict[str, Any] = orjson.loads(lines[0])
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ValueError(f"not a version {VERSION} spool file")
    if header.get("destination") != destination:
        return None
    files = data.with_suffix(".files")
    return [Batch.from_json(orjson.loads(line), files) for line in lines[1:] if line.strip()]


def spooled_destinations(root: Path) -> dict[str, int]:
    """How many spool files wait for each destination (for `plimsoll sync` to mention)."""
    found: dict[str, int] = {}
    if not root.is_dir():
        return found
    for data in root.glob("*/*.jsonl"):
        try:
            with data.open("rb") as handle:
                header = orjson.loads(handle.readline())
        except (OSError, ValueError):
            continue
        if isinstance(header, dict) and isinstance(header.get("destination"), str):
            found[header["destination"]] = found.get(header["destination"], 0) + 1
    return found


def _store(source: bytes | Path, target: Path, root: Path) -> None:
    """A private copy of an artifact's content. Another spool's copy (never changed once written)
    is linked rather than copied; a user's file is copied, since they may change it later."""
    if isinstance(source, Path) and source.is_relative_to(root):
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another file system, or no hard links: copy
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        if isinstance(source, bytes):
            out.write(source)
        else:
            with source.open("rb") as handle:
                shutil.copyfileobj(handle, out, 1024 * 1024)


def _make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def _try_lock(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _remove(data: Path, files: Path, lock: Path) -> None:
    data.unlink(missing_ok=True)
    shutil.rmtree(files, ignore_errors=True)
    lock.unlink(missing_ok=True)
