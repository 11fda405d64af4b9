"""Hashing a version's files: whole, in parallel, identical to a plain sequential hash, and read
only once while unchanged (the cache's reads counted from what hashing reports)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from blake3 import blake3
from data_support import make_tree, settle

from plimsoll.core.errors import Conflict
from plimsoll.data.entities import ManifestEntry, manifest_digest
from plimsoll.data.hashing import THREADED_FILE, HashCache, hash_local
from plimsoll.data.sources import local_files


def _sequential(root: Path) -> list[ManifestEntry]:
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        entries.append(ManifestEntry(path.relative_to(root).as_posix(), blake3(data).hexdigest(), len(data)))
    return sorted(entries, key=lambda e: e.path)


def test_parallel_hashing_gives_the_digests_of_a_sequential_hash(tmp_path: Path) -> None:
    sizes = [0, 1, 1000, (1 << 20) - 1, 1 << 20, 3 * (1 << 20) + 7]
    files = {f"part-{i:02d}/f{i}.bin": os.urandom(size) for i, size in enumerate(sizes * 3)}
    root = make_tree(tmp_path / "tree", files)
    parallel = hash_local(local_files(root), workers=8).entries
    assert parallel == _sequential(root)
    assert manifest_digest(parallel) == manifest_digest(_sequential(root))
    one_thread = hash_local(local_files(root), workers=1).entries
    assert one_thread == parallel


def test_a_large_file_hashed_by_blake3_threads_matches_a_streamed_hash(tmp_path: Path) -> None:
    big = tmp_path / "big" / "big.bin"
    big.parent.mkdir()
    chunk = os.urandom(1 << 20)
    with big.open("wb") as out:
        for _ in range(THREADED_FILE // len(chunk) + 3):
            out.write(chunk)
    streamed = blake3()
    with big.open("rb") as f:
        while data := f.read(1 << 22):
            streamed.update(data)
    [entry] = hash_local(local_files(big.parent)).entries
    assert entry.digest == streamed.hexdigest() and entry.size == big.stat().st_size


def test_the_cache_rereads_only_the_changed_file(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", {f"f{i}.txt": f"file {i}\n".encode() * 100 for i in range(20)})
    settle(root)
    cache = HashCache(tmp_path / "hashes.sqlite")
    first = hash_local(local_files(root), cache=cache)
    assert len(first.read) == 20
    again = hash_local(local_files(root), cache=cache)
    assert again.read == [] and again.bytes_read == 0 and again.entries == first.entries
    # The same size, a different byte: only the mtime (and the content) tell.
    (root / "f7.txt").write_bytes(b"FILE 7\n" + (b"file 7\n" * 99))
    settle(root / "f7.txt")
    changed = hash_local(local_files(root), cache=cache)
    assert changed.read == ["f7.txt"]
    assert [e.path for e in changed.entries if e not in first.entries] == ["f7.txt"]


def test_a_file_written_just_now_is_not_remembered(tmp_path: Path) -> None:
    """Racily clean: a write in the same mtime tick after hashing would go unseen, so a file
    modified in the last 2 s is hashed again next time."""
    root = make_tree(tmp_path / "tree", {"fresh.txt": b"fresh"})
    cache = HashCache(tmp_path / "hashes.sqlite")
    hash_local(local_files(root), cache=cache)
    assert hash_local(local_files(root), cache=cache).read == ["fresh.txt"]


def test_a_file_that_changes_while_it_is_hashed_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    root.mkdir()
    growing = root / "growing.bin"
    growing.write_bytes(os.urandom(1 << 20) * 200)
    stop = threading.Event()

    def append() -> None:
        with growing.open("ab") as out:
            while not stop.is_set():
                out.write(b"x" * 4096)
                out.flush()

    writer = threading.Thread(target=append)
    files = local_files(root)
    writer.start()
    try:
        with pytest.raises(Conflict, match=r"'growing.bin' changed while it was hashed"):
            hash_local(files)
    finally:
        stop.set()
        writer.join()


def test_an_unusable_cache_is_skipped(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache's folder should be")
    cache = HashCache(blocker / "hashes.sqlite")
    root = make_tree(tmp_path / "tree", {"a.txt": b"a"})
    assert hash_local(local_files(root), cache=cache).entries[0].digest == blake3(b"a").hexdigest()
