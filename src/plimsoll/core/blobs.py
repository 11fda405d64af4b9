"""Content-addressed blob store: local directory by default, S3 for production.

    store = BlobStore.from_url("/var/lib/plimsoll/blobs")      # or "file:///…", "s3://bucket/prefix"
    ref = store.put_file("model.pkl")                           # BlobRef(digest="…", size=…)
    with store.open(ref.digest) as f: ...                       # verified when read to EOF
    for chunk in store.verified_chunks(ref.digest): ...         # verified before the first chunk

A blob's key is the BLAKE3 hex digest of its content, stored at `<root>/<d[0:2]>/<d[2:4]>/<d>`.
Content is hashed while it is copied to a spool file, then published in one atomic step: `os.replace`
from `<root>/.tmp/` for a local root, a single PutObject (multipart only above the 5 GiB PUT limit,
which S3 also makes visible only on completion) for S3. Readers therefore see a whole blob or none,
and two writers of the same content, in threads or processes, both succeed. Reads verify the digest.

Storing content that is already stored checks the stored copy: one that no longer hashes to its
digest (a flipped bit on disk, an edit behind our back) is replaced, so uploading the original
again repairs it. Local files are created with the store's `file_mode` (owner-only by default) and
the folders made for them with the matching folder mode (`plimsoll.core.files`).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import itertools
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, Protocol, cast

import fsspec
from blake3 import blake3

from plimsoll.core.errors import BlobCorrupted, BlobNotFound, InvalidParameter
from plimsoll.core.files import PRIVATE_FILE_MODE, make_dirs

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["BlobCorrupted", "BlobNotFound", "BlobRef", "BlobStore"]

CHUNK_SIZE = 1 << 20
THREADED_HASH_SIZE = 64 << 20  # from here a file's hash is worth BLAKE3's threads
IN_MEMORY_SIZE = 1 << 20  # up to here a file is read whole, hashed and written: fewer system calls
BATCH_FILES = 2048  # `put_files` flushes to disk once per this many files (and per BATCH_BYTES)
BATCH_BYTES = 512 << 20
_MAX_SINGLE_PUT = 5 << 30  # S3 refuses a PutObject larger than 5 GiB
_DIGEST = re.compile(r"[0-9a-f]{64}")
_SPOOL_PREFIX = ".plimsoll-blob-"


@dataclass(frozen=True, slots=True)
class BlobRef:
    digest: str
    size: int


class _Backend(Protocol):
    # Where put spools content, ready for an atomic publish to `key` (any key when None); made.
    def spool_dir(self, key: str | None = None) -> str | None: ...

    def size(self, key: str) -> int | None: ...
    def open(self, key: str) -> BinaryIO: ...
    def download(self, key: str, dest: str) -> None: ...
    def publish(self, spool: str, key: str) -> None: ...
    def publish_many(self, spools: Sequence[tuple[str, str]]) -> None: ...  # (spool, key) pairs
    def walk(self) -> Iterator[tuple[str, int]]: ...  # (key, modified at in epoch ms) of every blob
    def modified(self, key: str) -> int | None: ...  # epoch ms, None when absent
    def touch(self, key: str) -> None: ...  # mark a blob as just stored again (garbage collection)
    def delete(self, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredBlob:
    digest: str
    modified_at: int  # epoch ms


class BlobStore:
    """Put, check and read blobs by BLAKE3 digest. Thread- and process-safe; build with `from_url`."""

    def __init__(self, backend: _Backend, url: str) -> None:
        self._backend = backend
        self._url = url

    @classmethod
    def from_url(
        cls, url: str | os.PathLike[str], *, file_mode: int = PRIVATE_FILE_MODE, **storage_options: Any
    ) -> BlobStore:
        """A store at a local path, a `file://` URL or an `s3://bucket/prefix` URL.

        `file_mode` is the mode of the files of a local store (its folders get the matching folder
        mode). `storage_options` go to s3fs (`endpoint_url`, `key`, `secret`, `client_kwargs`, …);
        without them s3fs and botocore read the usual AWS_* variables, AWS_ENDPOINT_URL included.
        """
        text = os.fspath(url)
        protocol, _ = fsspec.core.split_protocol(text)
        if protocol in (None, "file", "local"):
            root = fsspec.core.strip_protocol(text) if protocol else text
            return cls(_LocalBackend(Path(root).expanduser().resolve(), file_mode), text)
        if protocol in ("s3", "s3a"):
            fs, root = fsspec.core.url_to_fs(text, **storage_options)
            return cls(_S3Backend(fs, root.rstrip("/")), text)
        raise InvalidParameter(
            "url", f"must be a local path, a file:// or an s3:// URL. Got {text!r} instead."
        )

    @property
    def url(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"BlobStore({self._url!r})"

    def put_bytes(self, data: bytes) -> BlobRef:
        return self._put_batch([data])[0]

    def put_file(self, source: str | os.PathLike[str] | IO[bytes]) -> BlobRef:
        """Store a file's content; a no-op if the same content is already stored.

        A stored copy is kept only if it is whole: of the right size and hashing to its digest (it
        is read to check). One that is not (truncated, or with a flipped bit) is replaced, so
        uploading the original again repairs it.
        """
        if isinstance(source, str | os.PathLike):
            return self._put_batch([Path(source)])[0]
        with self._spooled(source) as (spool, ref):
            if not self._holds(ref):
                self._backend.publish(spool, _key(ref.digest))
            else:
                self._backend.touch(_key(ref.digest))
        return ref

    def put_files(self, sources: Sequence[str | os.PathLike[str]]) -> list[BlobRef]:
        """`put_file` for many files, with the same guarantee (a blob is whole once stored, and a
        crash leaves none half-written) at a lower cost: on a local root the contents are spooled,
        flushed to disk together, published, and the names flushed together, two flushes per
        BATCH_FILES files instead of two per file. The refs come back in `sources`' order."""
        refs: list[BlobRef] = []
        batch: list[bytes | Path] = []
        batch_bytes = 0
        for source in map(Path, sources):
            batch.append(source)
            batch_bytes += source.stat().st_size
            if len(batch) >= BATCH_FILES or batch_bytes >= BATCH_BYTES:
                refs += self._put_batch(batch)
                batch, batch_bytes = [], 0
        return refs + self._put_batch(batch)

    def _put_batch(self, sources: Sequence[bytes | Path]) -> list[BlobRef]:
        """Store contents given in memory or as files; a small file is read whole, so that its
        spool can be written beside its final name (a file made in a small folder costs a
        fraction of one made in a shared spool folder)."""
        refs: list[BlobRef] = []
        with contextlib.ExitStack() as spools:
            publish: dict[str, str] = {}
            for source in sources:
                content = source if isinstance(source, bytes) else _small_content(source)
                spool: str | None = None
                if content is None:
                    spool, ref = spools.enter_context(self._spooled_path(cast(Path, source)))
                else:
                    ref = BlobRef(blake3(content).hexdigest(), len(content))
                refs.append(ref)
                key = _key(ref.digest)
                if key in publish:
                    continue
                if self._holds(ref):
                    self._backend.touch(key)
                    continue
                publish[key] = spool or spools.enter_context(self._spooled_bytes(cast(bytes, content), key))
            self._backend.publish_many([(spool, key) for key, spool in publish.items()])
        return refs

    def _holds(self, ref: BlobRef) -> bool:
        """Whether the store holds `ref`'s content intact. The size answers most cases without a
        read; only a copy of the right size is read and hashed."""
        if self._backend.size(_key(ref.digest)) != ref.size:
            return False
        try:
            self.verify(ref.digest)
        except (BlobCorrupted, BlobNotFound):
            return False
        return True

    @contextmanager
    def _spooled(self, source: IO[bytes]) -> Iterator[tuple[str, BlobRef]]:
        """Copy `source` to a spool file while hashing it; the file is removed on the way out."""
        spool_dir = self._backend.spool_dir()
        fd, spool = tempfile.mkstemp(prefix=_SPOOL_PREFIX, dir=spool_dir)
        try:
            hasher, size = blake3(), 0
            with os.fdopen(fd, "wb") as out:
                for chunk in iter(partial(source.read, CHUNK_SIZE), b""):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            yield spool, BlobRef(hasher.hexdigest(), size)
        finally:
            Path(spool).unlink(missing_ok=True)  # already gone once published locally

    @contextmanager
    def _spooled_path(self, source: Path) -> Iterator[tuple[str, BlobRef]]:
        """`_spooled` for a file: copied by the kernel (`copy_file_range`, no pass through Python),
        then the copy hashed from a memory map, on BLAKE3's threads when it is large. The copy's
        hash is the stored content's, whatever the source did meanwhile."""
        fd, spool = tempfile.mkstemp(prefix=_SPOOL_PREFIX, dir=self._backend.spool_dir())
        os.close(fd)
        try:
            shutil.copyfile(source, spool)
            size = os.path.getsize(spool)
            hasher = blake3(max_threads=blake3.AUTO if size >= THREADED_HASH_SIZE else 1)
            if size:
                hasher.update_mmap(spool)
            yield spool, BlobRef(hasher.hexdigest(), size)
        finally:
            Path(spool).unlink(missing_ok=True)

    @contextmanager
    def _spooled_bytes(self, content: bytes, key: str) -> Iterator[str]:
        """A spool file holding `content`, made where `key` will be published when the backend
        says so (a local root: beside the final name)."""
        fd, spool = tempfile.mkstemp(prefix=_SPOOL_PREFIX, dir=self._backend.spool_dir(key))
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
            yield spool
        finally:
            Path(spool).unlink(missing_ok=True)

    def stored(self) -> Iterator[StoredBlob]:
        """Every blob in the store, with when it was last written (for garbage collection)."""
        for key, modified_at in self._backend.walk():
            digest = key.rsplit("/", 1)[-1]
            if _DIGEST.fullmatch(digest) and key == _key(digest):
                yield StoredBlob(digest, modified_at)

    def delete(self, digest: str) -> None:
        """Remove a blob; a blob already gone is fine. Only garbage collection calls this."""
        self._backend.delete(_checked_key(digest))

    def leftover_spools(self) -> Iterator[StoredBlob]:
        """Spool files a put left behind (the process died before it published or removed them),
        with when they were last written, named by their key in `digest`'s place."""
        for key, modified_at in self._backend.walk():
            if key.rsplit("/", 1)[-1].startswith(_SPOOL_PREFIX):
                yield StoredBlob(key, modified_at)

    def delete_spool(self, key: str) -> None:
        """Remove a spool file `leftover_spools` found. Only garbage collection calls this."""
        if not key.rsplit("/", 1)[-1].startswith(_SPOOL_PREFIX):
            raise ValueError(f"not a spool file: {key!r}")
        self._backend.delete(key)

    def readable_at(self, digest: str) -> tuple[Any, str]:
        """Where a reader that takes a filesystem (DuckDB, Arrow datasets) finds the blob: its
        fsspec filesystem (None for a local folder, which such readers open natively) and the
        path or URL to give it. The content is not checked: readers of large blobs trust the
        digest their index names, as `open` does once read whole."""
        key = _checked_key(digest)
        backend = self._backend
        if isinstance(backend, _S3Backend):
            return backend.fs, f"s3://{backend.root}/{key}"
        return None, str(cast(_LocalBackend, backend).root / key)

    @property
    def filesystem(self) -> Any:
        """The fsspec filesystem of an S3 store (to register with a reader such as DuckDB), None
        for a local folder."""
        return self._backend.fs if isinstance(self._backend, _S3Backend) else None

    def modified_at(self, digest: str) -> int | None:
        """When the blob was last stored (a store of the same content again counts), in epoch ms."""
        return self._backend.modified(_checked_key(digest))

    def exists(self, digest: str) -> bool:
        return self._backend.size(_checked_key(digest)) is not None

    def size(self, digest: str) -> int:
        size = self._backend.size(_checked_key(digest))
        if size is None:
            raise _not_found(digest)
        return size

    def get_bytes(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def verify(self, digest: str) -> None:
        """Read the whole blob and check it against its digest: BlobCorrupted if it no longer
        hashes to it, BlobNotFound if it is gone."""
        with self.open(digest) as stream:
            while stream.read(CHUNK_SIZE):
                pass

    def verified_chunks(self, digest: str, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """The blob's content in chunks, every byte of it checked against the digest before this
        returns: a corrupted or missing blob raises here, before anything is sent on, never as a
        stream broken off midway. A blob of less than a chunk is read once; a larger one is read
        twice (hashed, then streamed), which is the price of answering with an error instead of a
        cut stream. The stream is checked again as it ends, in case the blob changed meanwhile."""
        if self.size(digest) >= chunk_size:
            self.verify(digest)
        chunks = self._chunks(digest, chunk_size)
        first = next(chunks, b"")  # a blob of less than a chunk is read, and checked, here
        return itertools.chain([first], chunks)

    def _chunks(self, digest: str, chunk_size: int) -> Iterator[bytes]:
        with self.open(digest) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk

    @contextmanager
    def open(self, digest: str) -> Iterator[BinaryIO]:
        """A binary stream of the blob; raises BlobCorrupted at EOF if the content does not match."""
        key = _checked_key(digest)
        try:
            raw = self._backend.open(key)
        except FileNotFoundError:
            raise _not_found(digest) from None
        with io.BufferedReader(_VerifyingReader(raw, digest), buffer_size=CHUNK_SIZE) as stream:
            yield stream

    def copy_to(self, digest: str, dest: str | os.PathLike[str]) -> None:
        """Download a blob to a local file: streamed to a temp file beside it, verified, then renamed."""
        key = _checked_key(digest)
        target = Path(dest)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(fd)
        try:
            try:
                self._backend.download(key, tmp)
            except FileNotFoundError:
                raise _not_found(digest) from None
            with open(tmp, "rb") as f:
                hasher = blake3()
                for chunk in iter(partial(f.read, CHUNK_SIZE), b""):
                    hasher.update(chunk)
            _check(digest, hasher.hexdigest())
            os.chmod(tmp, 0o644)
            _fsync(tmp)
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)


class _LocalBackend:
    def __init__(self, root: Path, file_mode: int) -> None:
        self.root = root
        self.file_mode = file_mode

    def spool_dir(self, key: str | None = None) -> str:
        # Inside the root: the same filesystem as the blobs, so os.replace is atomic. The walk
        # of garbage collection skips spool files beside blobs: their names are not digests.
        folder = self.root / ".tmp" if key is None else (self.root / key).parent
        return str(make_dirs(folder, self.file_mode))

    def size(self, key: str) -> int | None:
        try:  # a string path: asked once per file of a registration, where Path's parsing shows
            return os.stat(os.path.join(self.root, key)).st_size
        except FileNotFoundError:
            return None

    def open(self, key: str) -> BinaryIO:
        return open(self.root / key, "rb", buffering=0)

    def download(self, key: str, dest: str) -> None:
        shutil.copyfile(self.root / key, dest)

    def walk(self) -> Iterator[tuple[str, int]]:
        # The blobs' two levels of folders, and the spool folder (spools of a crashed put stay).
        for path in itertools.chain(self.root.glob("??/??/*"), self.root.glob(".tmp/*")):
            try:
                modified = path.stat().st_mtime_ns // 1_000_000
            except FileNotFoundError:
                continue
            yield path.relative_to(self.root).as_posix(), modified

    def modified(self, key: str) -> int | None:
        try:
            return (self.root / key).stat().st_mtime_ns // 1_000_000
        except FileNotFoundError:
            return None

    def touch(self, key: str) -> None:
        # Content stored again is new to garbage collection: its grace period starts over.
        with contextlib.suppress(FileNotFoundError):
            os.utime(self.root / key)

    def delete(self, key: str) -> None:
        (self.root / key).unlink(missing_ok=True)

    def publish(self, spool: str, key: str) -> None:
        path = self.root / key
        os.chmod(spool, self.file_mode)
        _fsync(spool)
        make_dirs(path.parent, self.file_mode)
        os.replace(spool, path)
        _fsync(path.parent)

    def publish_many(self, spools: Sequence[tuple[str, str]]) -> None:
        flush = _filesystem_flush()
        if flush is None or len(spools) < 2:
            for spool, key in spools:
                self.publish(spool, key)
            return
        for spool, _ in spools:
            os.chmod(spool, self.file_mode)
        flush(self.root)  # every spool's content on disk before any name points at it
        made: set[Path] = set()
        for spool, key in spools:
            path = self.root / key
            if path.parent not in made:
                make_dirs(path.parent, self.file_mode)
                made.add(path.parent)
            os.replace(spool, path)
        flush(self.root)  # and the names


class _S3Backend:
    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root

    def spool_dir(self, key: str | None = None) -> None:
        return None  # the system temp dir: nothing is written to S3 before the content is hashed

    def size(self, key: str) -> int | None:
        # One HEAD; fs.info would follow a miss with a LIST, looking for a "directory".
        bucket, obj, _ = self.fs.split_path(f"{self.root}/{key}")
        try:
            return int(self.fs.call_s3("head_object", Bucket=bucket, Key=obj)["ContentLength"])
        except FileNotFoundError:
            return None

    def open(self, key: str) -> BinaryIO:
        # No read-ahead cache: the BufferedReader above asks for whole chunks, one ranged GET each.
        stream: BinaryIO = self.fs.open(f"{self.root}/{key}", "rb", block_size=CHUNK_SIZE, cache_type="none")
        return stream

    def download(self, key: str, dest: str) -> None:
        # One streamed GET; s3fs would otherwise hold up to 10 parallel 50 MiB ranges in memory.
        self.fs.get_file(f"{self.root}/{key}", dest, max_concurrency=1)

    def walk(self) -> Iterator[tuple[str, int]]:
        prefix = f"{self.root}/"
        for path, info in self.fs.find(self.root, detail=True).items():
            modified = info.get("LastModified")
            stamp = int(modified.timestamp() * 1000) if modified is not None else 0
            yield path[len(prefix) :] if path.startswith(prefix) else path, stamp

    def modified(self, key: str) -> int | None:
        bucket, obj, _ = self.fs.split_path(f"{self.root}/{key}")
        try:
            head = self.fs.call_s3("head_object", Bucket=bucket, Key=obj)
        except FileNotFoundError:
            return None
        return int(head["LastModified"].timestamp() * 1000)

    def touch(self, key: str) -> None:
        # A copy onto itself is the only way to renew an object's LastModified; it costs a request
        # per duplicate upload, which is what makes the sweep safe for content stored again.
        bucket, obj, _ = self.fs.split_path(f"{self.root}/{key}")
        self.fs.call_s3(
            "copy_object",
            Bucket=bucket,
            Key=obj,
            CopySource={"Bucket": bucket, "Key": obj},
            MetadataDirective="REPLACE",
        )

    def delete(self, key: str) -> None:
        bucket, obj, _ = self.fs.split_path(f"{self.root}/{key}")
        self.fs.call_s3("delete_object", Bucket=bucket, Key=obj)
        self.fs.invalidate_cache(f"{self.root}/{key}")

    def publish(self, spool: str, key: str) -> None:
        path = f"{self.root}/{key}"
        if os.path.getsize(spool) > _MAX_SINGLE_PUT:
            self.fs.put_file(spool, path, max_concurrency=1)  # multipart, aborted on error
            return
        # s3fs's own put_file reads a file below 100 MiB into memory first; stream the body instead.
        bucket, obj, _ = self.fs.split_path(path)
        with open(spool, "rb") as body:
            self.fs.call_s3("put_object", Bucket=bucket, Key=obj, Body=body)
        self.fs.invalidate_cache(path)

    def publish_many(self, spools: Sequence[tuple[str, str]]) -> None:
        for spool, key in spools:  # each PutObject is durable when it returns
            self.publish(spool, key)


class _VerifyingReader(io.RawIOBase):
    """Pass a stream through, hashing it; at EOF, raise BlobCorrupted unless it hashed to `digest`."""

    def __init__(self, raw: BinaryIO, digest: str) -> None:
        self._raw = raw
        self._digest = digest
        self._hasher = blake3()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view, view.cast("B") as out:
            wanted = len(out)
            data = self._raw.read(wanted)
            out[: len(data)] = data
        if data:
            self._hasher.update(data)
        elif wanted:
            _check(self._digest, self._hasher.hexdigest())
        return len(data)

    def readall(self) -> bytes:  # the default reads 8 KiB at a time: one S3 request each
        return b"".join(iter(partial(self.read, CHUNK_SIZE), b""))

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _checked_key(digest: str) -> str:
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise InvalidParameter(
            "digest", f"must be 64 lowercase hex characters (a BLAKE3 digest). Got {digest!r} instead."
        )
    return _key(digest)


def _key(digest: str) -> str:
    return f"{digest[0:2]}/{digest[2:4]}/{digest}"


def _check(digest: str, actual: str) -> None:
    if actual != digest:
        raise BlobCorrupted(
            f"blob {digest} is corrupted: its stored content hashes to {actual}",
            details={"digest": digest, "actual": actual},
        )


def _not_found(digest: str) -> BlobNotFound:
    return BlobNotFound(f"no blob with digest {digest}", details={"digest": digest})


def _fsync(path: str | Path) -> None:
    """Flush a file's (or directory's) content to disk, so a rename never exposes unwritten data."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _small_content(source: Path) -> bytes | None:
    """The file's content if it is at most IN_MEMORY_SIZE (as it is when read), else None."""
    if source.stat().st_size > IN_MEMORY_SIZE:
        return None
    with source.open("rb") as reading:
        content = reading.read(IN_MEMORY_SIZE + 1)
    return content if len(content) <= IN_MEMORY_SIZE else None


@functools.cache
def _filesystem_flush() -> Callable[[Path], None] | None:
    """Flush everything written to the filesystem holding a path, in one call: Linux's syncfs(2).
    None where the C library lacks it; callers then fsync file by file."""
    try:
        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (AttributeError, OSError):
        return None

    def flush(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            if syncfs(fd) != 0:
                error = ctypes.get_errno()
                raise OSError(error, os.strerror(error), str(path))
        finally:
            os.close(fd)

    return flush
