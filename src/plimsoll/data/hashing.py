"""Hashing a version's files: whole, in parallel, and only once while they stay unchanged.

Every file is hashed in full with BLAKE3. Files are spread over a thread pool (the `blake3`
package releases the GIL), and a file large enough to gain from it is hashed by BLAKE3's own
threads over a memory map. A file is stat'ed before and after it is read: one that changed
meanwhile refuses the registration, since its digest would describe neither version of it.

`HashCache` remembers digests in a small SQLite file (by default `~/.cache/plimsoll/hashes.sqlite`,
or under `$XDG_CACHE_HOME`), keyed on the file's absolute path, size, mtime_ns and inode, so that
registering an unchanged tree reads nothing. A file modified within `RACY_WINDOW_NS` of being
hashed is not remembered: a later write in the same timestamp tick would keep its mtime, and
only a reread can tell (git's "racily clean" entries).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from blake3 import blake3

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.data.entities import ManifestEntry

log = logging.getLogger("plimsoll.data")

CHUNK_SIZE = 4 << 20
SMALL_FILE = 1 << 20  # read whole: cheaper than a memory map
THREADED_FILE = 64 << 20  # BLAKE3's own threads pay off from about here
RACY_WINDOW_NS = 2_000_000_000
DEFAULT_WORKERS = min(8, os.cpu_count() or 1)
BATCH_FILES = 64
BATCH_BYTES = 8 << 20

# Called from the caller's thread as files finish: (what, bytes done, bytes in all).
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class LocalFile:
    path: str  # relative, with forward slashes: its place in the manifest
    absolute: Path


@dataclass
class Hashed:
    entries: list[ManifestEntry]
    read: list[str] = field(default_factory=list)  # the relative paths actually read (not cached)
    bytes_read: int = 0


@dataclass(frozen=True, slots=True)
class _Stat:
    size: int
    mtime_ns: int
    inode: int

    @classmethod
    def of(cls, path: Path) -> _Stat:
        found = path.stat()
        return cls(found.st_size, found.st_mtime_ns, found.st_ino)


def default_cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "plimsoll" / "hashes.sqlite"


class HashCache:
    """Digests of local files, by (absolute path, size, mtime_ns, inode). Only the caller's thread
    touches it. A cache that cannot be opened or written is skipped with a warning: it saves
    time, it never decides what a digest is."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS file_digests (path TEXT PRIMARY KEY, size INTEGER NOT NULL,"
                " mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, digest TEXT NOT NULL)"
            )
            self._conn = conn
        except (sqlite3.Error, OSError) as exc:
            log.warning("hash cache %s unusable (%s); hashing without it", self.path, exc)

    def lookup(self, path: Path, stat: _Stat) -> str | None:
        if self._conn is None:
            return None
        try:
            row = self._conn.execute(
                "SELECT digest FROM file_digests WHERE path = ? AND size = ? AND mtime_ns = ? AND inode = ?",
                (str(path), stat.size, stat.mtime_ns, stat.inode),
            ).fetchone()
        except sqlite3.Error:
            return None
        return None if row is None else str(row[0])

    def remember(self, rows: Iterable[tuple[Path, _Stat, str]]) -> None:
        if self._conn is None:
            return
        values = [(str(p), s.size, s.mtime_ns, s.inode, d) for p, s, d in rows]
        try:
            self._conn.execute("BEGIN")
            self._conn.executemany("INSERT OR REPLACE INTO file_digests VALUES (?, ?, ?, ?, ?)", values)
            self._conn.execute("COMMIT")
        except sqlite3.Error as exc:
            log.warning("hash cache %s not written (%s)", self.path, exc)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def hash_bytes_of(path: Path, size: int) -> str:
    """The BLAKE3 digest of a whole local file."""
    if size < SMALL_FILE:
        with path.open("rb") as f:
            return blake3(f.read()).hexdigest()
    hasher = blake3(max_threads=blake3.AUTO if size >= THREADED_FILE else 1)
    hasher.update_mmap(path)
    return hasher.hexdigest()


def hash_stream(stream: BinaryIO) -> tuple[str, int]:
    hasher, size = blake3(), 0
    while chunk := stream.read(CHUNK_SIZE):
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


def hash_local(
    files: Sequence[LocalFile],
    *,
    cache: HashCache | None = None,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> Hashed:
    """Digest and size of every file, in manifest order; reads only files the cache cannot vouch for."""
    stats: dict[str, _Stat] = {}
    digests: dict[str, str] = {}
    for file in files:
        stats[file.path] = _stat(file)
        cached = cache.lookup(file.absolute, stats[file.path]) if cache else None
        if cached is not None:
            digests[file.path] = cached
    to_read = [f for f in files if f.path not in digests]
    total = sum(stats[f.path].size for f in to_read)
    done = 0
    if progress:
        progress("hashing", 0, total)
    fresh: list[tuple[Path, _Stat, str]] = []
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="plimsoll-hash") as pool:
        futures = {pool.submit(_hash_batch, batch, stats): batch for batch in _batches(to_read, stats)}
        try:
            for future in as_completed(futures):
                for file, digest in zip(futures[future], future.result(), strict=True):
                    digests[file.path] = digest
                    fresh.append((file.absolute, stats[file.path], digest))
                    done += stats[file.path].size
                if progress:
                    progress("hashing", done, total)
        except BaseException:
            for pending in futures:
                pending.cancel()
            raise
    if cache is not None:
        settled = time.time_ns() - RACY_WINDOW_NS
        cache.remember(row for row in fresh if row[1].mtime_ns < settled)
    entries = [ManifestEntry(f.path, digests[f.path], stats[f.path].size) for f in files]
    return Hashed(entries, read=sorted(f.path for f in to_read), bytes_read=total)


def _batches(files: Sequence[LocalFile], stats: dict[str, _Stat]) -> list[list[LocalFile]]:
    """Small files travel to the pool in groups (a task per tiny file costs more than its hash);
    a group closes at BATCH_FILES files or BATCH_BYTES bytes, so large files still spread out."""
    batches: list[list[LocalFile]] = []
    current: list[LocalFile] = []
    size = 0
    for file in files:
        current.append(file)
        size += stats[file.path].size
        if len(current) >= BATCH_FILES or size >= BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def _hash_batch(files: Sequence[LocalFile], stats: dict[str, _Stat]) -> list[str]:
    return [_hash_one(file, stats[file.path]) for file in files]


def _stat(file: LocalFile) -> _Stat:
    try:
        return _Stat.of(file.absolute)
    except FileNotFoundError:
        raise InvalidParameter(
            "source", f"file {file.path!r} ({file.absolute}) vanished before it was hashed"
        ) from None
    except OSError as exc:
        raise InvalidParameter("source", f"file {file.path!r} cannot be read: {exc.strerror}") from None


def _hash_one(file: LocalFile, before: _Stat) -> str:
    try:
        digest = hash_bytes_of(file.absolute, before.size)
        after = _Stat.of(file.absolute)
    except FileNotFoundError:
        raise changed_while_hashed(file.path, "it vanished") from None
    except OSError as exc:
        raise InvalidParameter("source", f"file {file.path!r} cannot be read: {exc.strerror}") from None
    if after != before:
        raise changed_while_hashed(file.path, f"size {before.size} -> {after.size}, mtime changed")
    return digest


# Contents stored in one call to the store where it is local (files, bytes): flushed to disk together.
STORE_BATCH = (512, 64 << 20)


def upload_batches(paths: Mapping[str, Path], files: int, size: int) -> Iterator[dict[str, Path]]:
    """Contents to store (digest → path) in batches of at most `files` files or `size` bytes (a
    larger file alone), in digest order: each batch is stored, flushed to disk together, and
    reported to the progress bar, before the next begins."""
    batch: dict[str, Path] = {}
    held = 0
    for digest in sorted(paths):
        length = paths[digest].stat().st_size
        if batch and (len(batch) >= files or held + length > size):
            yield batch
            batch, held = {}, 0
        batch[digest] = paths[digest]
        held += length
    if batch:
        yield batch


def changed_while_hashed(path: str, how: str) -> Conflict:
    return Conflict(
        f"file {path!r} changed while it was hashed ({how}); nothing was registered. Register it "
        "again once it is no longer being written.",
        details={"path": path},
    )


def hash_remote(
    fs: Any,
    urls: Sequence[tuple[str, str]],
    *,
    workers: int = DEFAULT_WORKERS,
    progress: Progress | None = None,
) -> list[ManifestEntry]:
    """Digest and size of remote files (`(relative path, URL path)` on an fsspec filesystem),
    streamed; a file whose size or version tag differs after the read is refused."""

    def one(relative: str, location: str) -> ManifestEntry:
        before = _remote_identity(fs, location)
        with fs.open(location, "rb") as stream:
            digest, size = hash_stream(stream)
        if _remote_identity(fs, location) != before or before[0] != size:
            raise changed_while_hashed(relative, "its size or version tag changed")
        return ManifestEntry(relative, digest, size)

    found: dict[str, ManifestEntry] = {}
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="plimsoll-hash") as pool:
        futures = {pool.submit(one, relative, location): relative for relative, location in urls}
        for count, future in enumerate(as_completed(futures), start=1):
            found[futures[future]] = future.result()
            if progress:
                progress("hashing", count, len(urls))
    return [found[relative] for relative, _ in urls]


def _remote_identity(fs: Any, location: str) -> tuple[Any, ...]:
    info = fs.info(location)
    tag = info.get("ETag") or info.get("etag") or info.get("mtime") or info.get("LastModified")
    return (info.get("size"), str(tag))
