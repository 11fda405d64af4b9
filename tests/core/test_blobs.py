"""The blob store contract, run on a local directory and on S3 (moto server on loopback)."""

from __future__ import annotations

import io
import multiprocessing
import os
import random
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from plimsoll.core import blobs as blobs_module
from plimsoll.core.blobs import BlobCorrupted, BlobNotFound, BlobRef, BlobStore
from plimsoll.core.errors import InvalidParameter, NotFound, PlimsollError

MiB = 1 << 20


@dataclass
class Backend:
    """A store plus ways to look at, and tamper with, what it keeps without going through it."""

    name: str
    store: BlobStore
    url: str
    options: dict[str, Any]
    blobs: Callable[[], list[str]]  # keys under the root, e.g. "ab/cd/abcd…"
    corrupt: Callable[[str, bytes], None]  # overwrite a stored blob's bytes
    write_token: Callable[[str], object]  # changes whenever the blob is written again
    leftovers: Callable[[], list[str]]  # spool files left behind by put


def _key(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


def _local_backend(root: Path) -> Backend:
    def blobs() -> list[str]:
        return sorted(
            p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".tmp" not in p.parts
        )

    def write_token(digest: str) -> object:
        return (root / _key(digest)).stat().st_ino  # a rewrite publishes a new file

    def leftovers() -> list[str]:
        # Large contents spool in .tmp, small ones beside the blob they become.
        return sorted(p.name for p in root.rglob(".plimsoll-blob-*"))

    def corrupt(digest: str, data: bytes) -> None:
        (root / _key(digest)).write_bytes(data)

    return Backend(
        name="local",
        store=BlobStore.from_url(str(root)),
        url=str(root),
        options={},
        blobs=blobs,
        corrupt=corrupt,
        write_token=write_token,
        leftovers=leftovers,
    )


def _s3_backend(url: str, options: dict[str, Any], client: Any, spool_dir: Path) -> Backend:
    bucket, prefix = url.removeprefix("s3://").split("/", 1)
    # Versioning makes every write visible as a new version: a spy-free way to see a rewrite.
    client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})

    def blobs() -> list[str]:
        listed = client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/").get("Contents", [])
        return sorted(o["Key"].removeprefix(f"{prefix}/") for o in listed)

    def corrupt(digest: str, data: bytes) -> None:
        client.put_object(Bucket=bucket, Key=f"{prefix}/{_key(digest)}", Body=data)

    def write_token(digest: str) -> object:
        # Storing the same content again renews the object with a copy on the server (so that
        # garbage collection's grace period starts over); its content is never uploaded again.
        versions = client.list_object_versions(Bucket=bucket, Prefix=f"{prefix}/{_key(digest)}")
        return {v["ETag"] for v in versions.get("Versions", [])}

    return Backend(
        name="s3",
        store=BlobStore.from_url(url, **options),
        url=url,
        options=options,
        blobs=blobs,
        corrupt=corrupt,
        write_token=write_token,
        leftovers=lambda: sorted(p.name for p in spool_dir.iterdir()),
    )


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Backend:
    if request.param == "local":
        return _local_backend(tmp_path / "blobs")
    spool_dir = tmp_path / "spool"  # S3 spools in the system temp dir: point it somewhere we can watch
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    url, options = request.getfixturevalue("s3_blob_url")
    return _s3_backend(url, options, request.getfixturevalue("s3_client"), spool_dir)


def _digest(data: bytes) -> str:
    return blake3(data).hexdigest()


def _random_bytes(size: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(size)


# -- round trip and layout ---------------------------------------------------------------------------


def test_put_bytes_round_trips(backend: Backend) -> None:
    data = b"plimsoll line"
    ref = backend.store.put_bytes(data)
    assert ref == BlobRef(_digest(data), len(data))
    assert backend.store.exists(ref.digest)
    assert backend.store.size(ref.digest) == len(data)
    assert backend.store.get_bytes(ref.digest) == data
    assert backend.blobs() == [_key(ref.digest)]
    assert backend.leftovers() == []


def test_empty_blob_round_trips(backend: Backend) -> None:
    ref = backend.store.put_bytes(b"")
    assert ref.size == 0
    assert backend.store.get_bytes(ref.digest) == b""


def test_put_file_from_path_and_fileobj(backend: Backend, tmp_path: Path) -> None:
    data = _random_bytes(3 * MiB + 17)
    source = tmp_path / "source.bin"
    source.write_bytes(data)
    ref = backend.store.put_file(source)
    assert ref == BlobRef(_digest(data), len(data))
    assert backend.store.put_file(str(source)) == ref
    with open(source, "rb") as f:
        assert backend.store.put_file(f) == ref
    assert backend.store.put_bytes(data) == ref
    assert backend.blobs() == [_key(ref.digest)]


def test_open_streams_and_copy_to_writes_a_local_file(backend: Backend, tmp_path: Path) -> None:
    data = _random_bytes(2 * MiB + 5)
    ref = backend.store.put_bytes(data)
    with backend.store.open(ref.digest) as f:
        head = f.read(10)
        rest = b"".join(iter(lambda: f.read(300_000), b""))
    assert head + rest == data
    dest = tmp_path / "out" / "model.bin"
    dest.parent.mkdir()
    backend.store.copy_to(ref.digest, dest)
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["model.bin"]


def test_put_of_stored_content_does_not_rewrite(backend: Backend, tmp_path: Path) -> None:
    data = _random_bytes(MiB)
    ref = backend.store.put_bytes(data)
    before = backend.write_token(ref.digest)
    source = tmp_path / "same.bin"
    source.write_bytes(data)
    assert backend.store.put_bytes(data) == ref
    assert backend.store.put_file(source) == ref
    assert backend.write_token(ref.digest) == before
    assert backend.leftovers() == []


def test_storing_content_again_renews_it_for_garbage_collection(backend: Backend) -> None:
    ref = backend.store.put_bytes(b"an environment file many runs share")
    first = backend.store.modified_at(ref.digest)
    assert first is not None
    time.sleep(1.1)  # S3 keeps LastModified to the second
    backend.store.put_bytes(b"an environment file many runs share")
    renewed = backend.store.modified_at(ref.digest)
    assert renewed is not None and renewed > first


# -- verification and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("tampered", [b"X" * 11, b"short", b"much longer than the original"])
def test_reads_detect_a_corrupted_blob(backend: Backend, tmp_path: Path, tampered: bytes) -> None:
    ref = backend.store.put_bytes(b"hello world")
    backend.corrupt(ref.digest, tampered)
    assert backend.store.exists(ref.digest)
    with pytest.raises(BlobCorrupted) as excinfo:
        backend.store.get_bytes(ref.digest)
    assert excinfo.value.code == "BLOB_CORRUPTED"
    assert excinfo.value.status == 500
    assert excinfo.value.details == {"digest": ref.digest, "actual": _digest(tampered)}
    with pytest.raises(BlobCorrupted), backend.store.open(ref.digest) as f:
        assert f.read(len(tampered)) == tampered  # bytes flow; the check fires at EOF
        f.read()
    dest = tmp_path / "copy.bin"
    with pytest.raises(BlobCorrupted):
        backend.store.copy_to(ref.digest, dest)
    assert list(tmp_path.glob("*copy.bin*")) == []


def test_put_replaces_a_blob_of_the_wrong_size(backend: Backend) -> None:
    ref = backend.store.put_bytes(b"hello world")
    backend.corrupt(ref.digest, b"hello")  # e.g. truncated by a faulty copy behind our back
    assert backend.store.put_bytes(b"hello world") == ref
    assert backend.store.get_bytes(ref.digest) == b"hello world"


@pytest.mark.parametrize("via", ["put_bytes", "put_file"])
def test_storing_the_content_again_repairs_a_corrupted_copy_of_the_right_size(
    backend: Backend, via: str
) -> None:
    """A flipped bit keeps the size: the stored copy is read and checked, and replaced."""
    data = _random_bytes(2 * MiB + 3, seed=7)
    ref = backend.store.put_bytes(data)
    flipped = bytearray(data)
    flipped[MiB] ^= 0x01
    backend.corrupt(ref.digest, bytes(flipped))
    with pytest.raises(BlobCorrupted):
        backend.store.verify(ref.digest)
    stored_again = (
        backend.store.put_bytes(data) if via == "put_bytes" else backend.store.put_file(io.BytesIO(data))
    )
    assert stored_again == ref
    backend.store.verify(ref.digest)
    assert backend.store.get_bytes(ref.digest) == data
    assert backend.leftovers() == []


def test_put_files_stores_many_at_once_in_their_order(backend: Backend, tmp_path: Path) -> None:
    """Small files (read whole) and one past the in-memory size (a kernel copy), a content twice,
    one already stored and one stored corrupted: every ref in order, every blob whole, no spool left."""
    contents = [_random_bytes(size, seed=size) for size in (0, 5, 4096, MiB, MiB + 1)] + [b"twice"]
    contents += [b"twice", b"stored before", b"corrupted before"]
    backend.store.put_bytes(b"stored before")
    corrupted = backend.store.put_bytes(b"corrupted before")
    backend.corrupt(corrupted.digest, b"corrupted BEFORE")
    paths = []
    for index, content in enumerate(contents):
        paths.append(tmp_path / f"f{index}")
        paths[-1].write_bytes(content)

    refs = backend.store.put_files(paths)

    assert [(ref.digest, ref.size) for ref in refs] == [(_digest(c), len(c)) for c in contents]
    for ref, content in zip(refs, contents, strict=True):
        backend.store.verify(ref.digest)
        assert backend.store.get_bytes(ref.digest) == content
    assert len(backend.blobs()) == len(set(contents))
    assert backend.leftovers() == []


def test_put_files_in_several_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(blobs_module, "BATCH_FILES", 3)
    backend = _local_backend(tmp_path / "blobs")
    paths = []
    for index in range(8):
        paths.append(tmp_path / f"f{index}")
        paths[-1].write_bytes(b"content %d" % index)
    refs = backend.store.put_files(paths)
    assert [backend.store.get_bytes(ref.digest) for ref in refs] == [p.read_bytes() for p in paths]
    assert len(backend.blobs()) == 8 and backend.leftovers() == []


def test_put_files_of_a_missing_file_stores_nothing_of_its_batch(backend: Backend, tmp_path: Path) -> None:
    present = tmp_path / "present"
    present.write_bytes(b"here")
    with pytest.raises(FileNotFoundError):
        backend.store.put_files([present, tmp_path / "absent"])
    assert backend.blobs() == [] and backend.leftovers() == []


@pytest.mark.parametrize("size", [11, MiB - 1, MiB, 3 * MiB + 5])
def test_verified_chunks_refuse_a_corrupted_blob_before_the_first_chunk(backend: Backend, size: int) -> None:
    data = _random_bytes(size, seed=size)
    ref = backend.store.put_bytes(data)
    assert b"".join(backend.store.verified_chunks(ref.digest)) == data
    backend.corrupt(ref.digest, data[:-1] + bytes([data[-1] ^ 0xFF]))  # the last byte only
    with pytest.raises(BlobCorrupted) as caught:
        backend.store.verified_chunks(ref.digest)  # raises here: no chunk was handed out
    assert caught.value.details["digest"] == ref.digest
    backend.corrupt(ref.digest, data[: size // 2])  # cut short
    with pytest.raises(BlobCorrupted):
        backend.store.verified_chunks(ref.digest)
    with pytest.raises(BlobNotFound):
        backend.store.verified_chunks(_digest(b"never stored"))


def test_missing_blob_raises_not_found(backend: Backend, tmp_path: Path) -> None:
    digest = _digest(b"never stored")
    assert not backend.store.exists(digest)
    with pytest.raises(BlobNotFound) as excinfo:
        backend.store.get_bytes(digest)
    assert issubclass(BlobNotFound, LookupError)
    assert excinfo.value.status == 404
    assert excinfo.value.details == {"digest": digest}
    with pytest.raises(BlobNotFound), backend.store.open(digest):
        pass
    with pytest.raises(BlobNotFound):
        backend.store.size(digest)
    with pytest.raises(BlobNotFound):
        backend.store.copy_to(digest, tmp_path / "out.bin")
    assert list(tmp_path.glob("*out.bin*")) == []


_BAD_DIGESTS = ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "0" * 64 + "\n", "../" + "0" * 61]


@pytest.mark.parametrize("digest", _BAD_DIGESTS)
def test_invalid_digest_is_rejected(backend: Backend, tmp_path: Path, digest: str) -> None:
    calls: list[Callable[[], object]] = [
        lambda: backend.store.exists(digest),
        lambda: backend.store.size(digest),
        lambda: backend.store.get_bytes(digest),
        lambda: backend.store.open(digest).__enter__(),
        lambda: backend.store.copy_to(digest, tmp_path / "out.bin"),
    ]
    for call in calls:
        with pytest.raises(InvalidParameter, match="64 lowercase hex characters") as excinfo:
            call()
        assert excinfo.value.field == "digest"


# -- atomicity and concurrency ------------------------------------------------------------------------


class _FailingReader(io.RawIOBase):
    """Hands out `chunks` chunks of data, then fails like a dropped connection."""

    def __init__(self, chunks: int) -> None:
        self._left = chunks

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left == 0:
            raise ConnectionResetError("upload source went away")
        self._left -= 1
        buffer[: len(buffer)] = b"x" * len(buffer)
        return len(buffer)


def test_failed_put_leaves_no_blob_and_no_temp_file(backend: Backend) -> None:
    with pytest.raises(ConnectionResetError, match="went away"):
        backend.store.put_file(io.BufferedReader(_FailingReader(chunks=3)))
    assert backend.blobs() == []
    assert backend.leftovers() == []


def test_concurrent_puts_from_threads_store_one_blob(backend: Backend) -> None:
    data = _random_bytes(3 * MiB, seed=1)
    workers = 8
    barrier = threading.Barrier(workers)

    def put(i: int) -> BlobRef:
        barrier.wait()
        return backend.store.put_bytes(data) if i % 2 else backend.store.put_file(io.BytesIO(data))

    with ThreadPoolExecutor(workers) as pool:
        refs = set(pool.map(put, range(workers)))
    assert refs == {BlobRef(_digest(data), len(data))}
    assert backend.blobs() == [_key(_digest(data))]
    assert backend.store.get_bytes(_digest(data)) == data
    assert backend.leftovers() == []


def _put_from_process(url: str, barrier: Any, queue: Any) -> None:
    data = _random_bytes(4 * MiB, seed=2)
    store = BlobStore.from_url(url)
    barrier.wait()
    queue.put(store.put_file(io.BytesIO(data)).digest)


def test_concurrent_puts_from_processes_store_one_blob(tmp_path: Path) -> None:
    backend = _local_backend(tmp_path / "blobs")
    ctx = multiprocessing.get_context("spawn")
    barrier, queue = ctx.Barrier(4), ctx.Queue()
    processes = [ctx.Process(target=_put_from_process, args=(backend.url, barrier, queue)) for _ in range(4)]
    for p in processes:
        p.start()
    for p in processes:
        p.join(timeout=30)
    assert [p.exitcode for p in processes] == [0, 0, 0, 0]
    data = _random_bytes(4 * MiB, seed=2)
    assert {queue.get(timeout=5) for _ in range(4)} == {_digest(data)}
    assert backend.blobs() == [_key(_digest(data))]
    assert backend.store.get_bytes(_digest(data)) == data
    assert backend.leftovers() == []


# -- streaming: memory stays bounded -------------------------------------------------------------------

BIG = 20 * MiB
MEMORY_BUDGET = 8 * MiB  # measured peaks are 2-4 MiB; reading the whole file in would take 20+


def _peak_memory(url: str, options: dict[str, Any], source: str, dest: str) -> dict[str, int]:
    """Run in a fresh process, so the in-process S3 server's copy of the body is not counted."""
    store = BlobStore.from_url(url, **options)
    store.exists("0" * 64)  # warm up: botocore loads its service models once
    digest = _digest(Path(source).read_bytes())
    tracemalloc.start()
    peaks = {}

    def measure(name: str, op: Callable[[], object]) -> None:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        op()
        peaks[name] = tracemalloc.get_traced_memory()[1] - base

    def read_to_eof() -> None:
        with store.open(digest) as f:
            while f.read(MiB):
                pass

    measure("put_file", lambda: store.put_file(source))
    measure("open", read_to_eof)
    measure("copy_to", lambda: store.copy_to(digest, dest))
    return peaks


def test_large_blobs_stream_with_bounded_memory(backend: Backend, tmp_path: Path) -> None:
    source = tmp_path / "big.bin"
    with open(source, "wb") as f:
        for _ in range(BIG // MiB):
            f.write(os.urandom(MiB))
    dest = tmp_path / "big.copy"
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        peaks = pool.submit(_peak_memory, backend.url, backend.options, str(source), str(dest)).result(60)
    assert backend.blobs() == [_key(_digest(source.read_bytes()))]
    assert all(peak < MEMORY_BUDGET for peak in peaks.values()), peaks
    assert dest.read_bytes() == source.read_bytes()


# -- construction -----------------------------------------------------------------------------------


def _modes(root: Path) -> dict[str, int]:
    return {p.relative_to(root).as_posix(): p.stat().st_mode & 0o777 for p in [root, *root.rglob("*")]}


def test_local_blobs_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the common default, which would leave files readable by all
    try:
        store = BlobStore.from_url(tmp_path / "blobs")
        ref = store.put_bytes(b"weights")
        store.put_file(io.BytesIO(b"more weights"))
    finally:
        os.umask(old_umask)
    modes = _modes(tmp_path / "blobs")
    assert modes[_key(ref.digest)] == 0o600
    assert {mode for path, mode in modes.items() if (tmp_path / "blobs" / path).is_file()} == {0o600}
    assert {mode for path, mode in modes.items() if (tmp_path / "blobs" / path).is_dir()} == {0o700}
    assert {".", ".tmp", _key(ref.digest)[:2], _key(ref.digest)[:5]} <= set(modes)


def test_local_blob_modes_can_be_opened_up(tmp_path: Path) -> None:
    old_umask = os.umask(0o077)  # a strict umask does not narrow what was configured
    try:
        store = BlobStore.from_url(tmp_path / "blobs", file_mode=0o640)
        ref = store.put_bytes(b"shared with the backup group")
        store.put_file(io.BytesIO(b"streamed: spooled in .tmp"))
    finally:
        os.umask(old_umask)
    modes = _modes(tmp_path / "blobs")
    assert modes[_key(ref.digest)] == 0o640
    assert modes["."] == modes[".tmp"] == modes[_key(ref.digest)[:5]] == 0o750


def test_from_url_accepts_paths_and_file_urls(tmp_path: Path) -> None:
    ref = BlobStore.from_url(tmp_path).put_bytes(b"x")
    for url in (str(tmp_path), f"file://{tmp_path}", tmp_path):
        store = BlobStore.from_url(url)
        assert store.get_bytes(ref.digest) == b"x"
        assert store.url == str(url)
    assert repr(BlobStore.from_url(str(tmp_path))) == f"BlobStore({str(tmp_path)!r})"


def test_from_url_rejects_unsupported_schemes() -> None:
    with pytest.raises(InvalidParameter, match="s3://") as excinfo:
        BlobStore.from_url("ftp://example.com/blobs")
    assert excinfo.value.field == "url"


def test_s3_url_honours_aws_environment(
    s3_blob_url: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = s3_blob_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", options["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", options["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    store = BlobStore.from_url(url, skip_instance_cache=True)
    ref = store.put_bytes(b"from the environment")
    assert BlobStore.from_url(url, **options).get_bytes(ref.digest) == b"from the environment"
    assert store.url == url


def test_url_carries_no_storage_options(s3_blob_url: tuple[str, dict[str, Any]]) -> None:
    url, options = s3_blob_url
    store = BlobStore.from_url(url, **options)
    assert store.url == url
    assert options["secret"] not in repr(store)


def test_errors_belong_to_the_tree() -> None:
    assert issubclass(BlobCorrupted, PlimsollError) and issubclass(BlobNotFound, NotFound)
    assert BlobCorrupted("x").to_dict()["error"]["code"] == "BLOB_CORRUPTED"
