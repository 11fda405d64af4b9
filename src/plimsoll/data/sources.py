"""What a dataset version is made from: the files of a source, found and checked.

A source is a local file or folder, an fsspec URL (`s3://bucket/prefix`, a file or a prefix), or a
table in memory: a pandas or polars DataFrame or an Arrow table, written as one Parquet file
(`data.parquet`) with fixed options, so the same frame always gives the same bytes and digest
(for a given pyarrow version: Parquet files name the writer).

Every file's place in the manifest is its path relative to the source's root, with forward
slashes; a name the manifest cannot hold, a special file, or a symbolic link that leads out of the
root (or to a folder) is refused, naming it.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import fsspec

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_artifact_path
from plimsoll.data.hashing import LocalFile

FRAME_FILE = "data.parquet"


@dataclass
class Collected:
    """The files of a source: local ones (`local`), or, for a remote source kept by reference,
    `(relative path, location)` pairs on `fs`. `source_url` is where a by-reference version's files
    stay (its root, as a URL)."""

    local: list[LocalFile] = field(default_factory=list)
    remote: list[tuple[str, str]] = field(default_factory=list)
    fs: Any = None
    source_url: str | None = None


def is_frame(source: Any) -> bool:
    import pyarrow as pa

    module = type(source).__module__
    return isinstance(source, pa.Table) or (
        module.startswith(("pandas", "polars")) and type(source).__name__ == "DataFrame"
    )


@contextmanager
def collect(source: Any, *, by_reference: bool) -> Iterator[Collected]:
    """The files of `source`; files written or fetched for the purpose are removed on the way out."""
    if is_frame(source):
        if by_reference:
            raise InvalidParameter(
                "by_reference",
                "a data frame lives in memory and has no place to refer to; register it by copy",
            )
        with tempfile.TemporaryDirectory(prefix="plimsoll-frame-") as folder:
            path = Path(folder) / FRAME_FILE
            write_frame(source, path)
            yield Collected(local=[LocalFile(FRAME_FILE, path)])
        return
    if not isinstance(source, str | os.PathLike):
        raise InvalidParameter(
            "source",
            "must be a file or folder path, an fsspec URL (s3://...), a pandas or polars DataFrame or an "
            f"Arrow table; got {type(source).__name__}",
        )
    text = os.fspath(source)
    protocol, _ = fsspec.core.split_protocol(text)
    if protocol in (None, "file", "local"):
        root = Path(fsspec.core.strip_protocol(text) if protocol else text).expanduser()
        files = local_files(root)
        url = (root.resolve() if root.is_dir() else root.resolve().parent).as_uri() if by_reference else None
        yield Collected(local=files, source_url=url)
        return
    fs, root_path = fsspec.core.url_to_fs(text)
    remote = remote_files(fs, text, root_path)
    if by_reference:
        base = root_path if fs.isdir(root_path) else str(PurePosixPath(root_path).parent)
        yield Collected(remote=remote, fs=fs, source_url=fs.unstrip_protocol(base).rstrip("/"))
        return
    with tempfile.TemporaryDirectory(prefix="plimsoll-fetch-") as folder:
        fetched: list[LocalFile] = []
        for relative, location in remote:
            target = Path(folder, *relative.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(location, str(target))
            fetched.append(LocalFile(relative, target))
        yield Collected(local=fetched)


def write_frame(frame: Any, path: Path) -> None:
    """One Parquet file with fixed options: same table, same bytes."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if isinstance(frame, pa.Table):
        table = frame
    elif type(frame).__module__.startswith("polars"):
        table = frame.to_arrow()
    else:
        try:
            table = pa.Table.from_pandas(frame)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
            raise InvalidParameter("source", f"the DataFrame cannot be written as Parquet: {exc}") from None
    if table.num_columns == 0:
        raise InvalidParameter("source", "the table has no columns: an empty dataset cannot be registered")
    pq.write_table(
        table,
        path,
        compression="zstd",
        compression_level=3,
        use_dictionary=True,
        write_statistics=True,
        version="2.6",
    )


def local_files(root: Path) -> list[LocalFile]:
    if not root.exists() and not root.is_symlink():
        raise InvalidParameter("source", f"{str(root)!r} does not exist")
    if root.is_file():
        return [LocalFile(_manifest_path(root.name, root), root.resolve())]
    if not root.is_dir():
        raise InvalidParameter("source", f"{str(root)!r} is neither a regular file nor a folder")
    real_root = root.resolve()
    found: list[LocalFile] = []
    # Strings, not Path objects, for the walk itself: a tree of many small files is mostly this loop.
    top = str(real_root)
    for folder, folders, names in os.walk(top):
        here = Path(folder)
        prefix = "" if folder == top else os.path.relpath(folder, top).replace(os.sep, "/") + "/"
        for name in sorted(folders):
            if (here / name).is_symlink():
                inside = _inside(real_root, here / name)
                raise InvalidParameter(
                    "source",
                    f"{_relative(real_root, here / name)!r} is a symbolic link to a folder"
                    f"{'' if inside else ' outside ' + str(real_root)}; links to folders are not followed",
                )
        for name in names:
            path = here / name
            relative = prefix + name
            found_stat = os.lstat(os.path.join(folder, name))
            absolute = path  # under the resolved root, reached without following a link
            if stat.S_ISLNK(found_stat.st_mode):
                if not _inside(real_root, path):
                    raise InvalidParameter(
                        "source", f"{relative!r} is a symbolic link that leads outside {str(real_root)!r}"
                    )
                try:
                    found_stat = path.stat()
                except FileNotFoundError:
                    raise InvalidParameter("source", f"{relative!r} is a broken symbolic link") from None
                absolute = path.resolve()
            if not stat.S_ISREG(found_stat.st_mode):
                raise InvalidParameter(
                    "source", f"{relative!r} is not a regular file (a pipe, socket or device)"
                )
            found.append(LocalFile(_manifest_path(relative, path), absolute))
    if not found:
        raise InvalidParameter(
            "source", f"folder {str(root)!r} holds no files: an empty dataset cannot be registered"
        )
    found.sort(key=lambda f: f.path)
    return found


def remote_files(fs: Any, url: str, root_path: str) -> list[tuple[str, str]]:
    try:
        if fs.isdir(root_path):
            listing = sorted(fs.find(root_path))
            prefix = root_path.rstrip("/") + "/"
            pairs = [(_manifest_path(p[len(prefix) :], p), p) for p in listing if p.startswith(prefix)]
            if not pairs:
                raise InvalidParameter(
                    "source", f"{url!r} holds no files: an empty dataset cannot be registered"
                )
            return pairs
        if fs.isfile(root_path):
            return [(_manifest_path(PurePosixPath(root_path).name, root_path), root_path)]
    except (OSError, PermissionError) as exc:
        raise InvalidParameter("source", f"{url!r} cannot be listed: {exc}") from None
    raise InvalidParameter("source", f"{url!r} does not exist")


def _relative(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def _inside(root: Path, path: Path) -> bool:
    return path.resolve().is_relative_to(root)


def _manifest_path(relative: str, where: Any) -> str:
    try:
        return check_artifact_path("source", relative)
    except InvalidParameter as exc:
        raise InvalidParameter(
            "source", f"file {str(where)!r} cannot be named in a manifest: {exc.message}"
        ) from None


def forget_listings(source_url: str) -> None:
    """Drop what fsspec remembers of the source's listings (sizes, versions): a by-reference file
    is read to be checked, and a size remembered from before it changed would cut the read short."""
    fs, _ = fsspec.core.url_to_fs(source_url)
    fs.invalidate_cache()


def open_at(source_url: str, relative: str) -> Any:
    """An open binary stream of a by-reference file, `relative` under `source_url`."""
    return fsspec.open(f"{source_url.rstrip('/')}/{relative}", "rb").open()


def copy_out(source_url: str, relative: str, target: Path) -> None:
    with open_at(source_url, relative) as stream, target.open("wb") as out:
        shutil.copyfileobj(stream, out, 4 << 20)
