"""Preparing a registration where the files are: find them, hash them, profile the tabular ones.

The embedded service and the SDK talking to a server both prepare a version here, so the server
receives a manifest and only the file contents it lacks. Also what reading a by-reference version
needs: its files checked where they stay, and copied out verified.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from plimsoll.core.errors import Conflict
from plimsoll.data.entities import DatasetVersion, ManifestEntry, NewVersion
from plimsoll.data.hashing import HashCache, Progress, hash_local, hash_remote, hash_stream
from plimsoll.data.profiles import Opener, profile
from plimsoll.data.sources import collect, copy_out, forget_listings, open_at


@dataclass
class Prepared:
    """A version ready to send: `version` (its manifest and what reading it found), where each
    distinct content is on this machine (`paths`, empty by reference) and the profile's bytes."""

    version: NewVersion
    paths: dict[str, Path] = field(default_factory=dict)
    profile_bytes: bytes | None = None
    files_read: list[str] = field(default_factory=list)


@contextmanager
def prepare(
    source: Any,
    template: NewVersion,
    *,
    cache: HashCache | None = None,
    progress: Progress | None = None,
) -> Iterator[Prepared]:
    """`template` carries the name, project, description, tags, run and whether by reference;
    the manifest, rows, schema and source URL are filled in. Temporary files live until exit."""
    with collect(source, by_reference=template.by_reference) as found:
        if found.local:
            hashed = hash_local(found.local, cache=cache, progress=progress)
            entries, files_read = hashed.entries, hashed.read
            openers = [(f.path, _opener(f.absolute)) for f in found.local]
            paths = (
                {}
                if template.by_reference
                else {e.digest: f.absolute for e, f in zip(entries, found.local, strict=True)}
            )
        else:
            entries = hash_remote(found.fs, found.remote, progress=progress)
            files_read = [relative for relative, _ in found.remote]
            openers = [
                (relative, partial(found.fs.open, location, "rb")) for relative, location in found.remote
            ]
            paths = {}
        if progress:
            progress("profiling", 0, 1)
        profiled = profile(openers)
        if progress:
            progress("profiling", 1, 1)
        version = replace(
            template,
            manifest=tuple(entries),
            source_url=found.source_url,
            rows=None if profiled is None else profiled.rows,
            schema=None if profiled is None else profiled.schema,
        )
        yield Prepared(version, paths, None if profiled is None else profiled.summary, files_read)


def _opener(path: Path) -> Opener:
    return lambda: path.open("rb")


def check_references(source_url: str, entries: Sequence[ManifestEntry]) -> None:
    """Conflict naming every by-reference file that changed or vanished since it was registered."""
    problems: list[str] = []
    forget_listings(source_url)
    for entry in entries:
        try:
            with open_at(source_url, entry.path) as stream:
                digest, size = hash_stream(stream)
        except FileNotFoundError:
            problems.append(f"{entry.path!r} vanished")
            continue
        if digest != entry.digest:
            problems.append(f"{entry.path!r} changed ({size} bytes now, {entry.size} registered)")
    if problems:
        raise Conflict(
            f"the files this version refers to at {source_url} are no longer what was registered: "
            + "; ".join(problems),
            details={"source_url": source_url, "problems": problems},
        )


# Writes one stored file's bytes to a local path (from the blob store, or over HTTP).
Fetch = Callable[[ManifestEntry, Path], None]


def write_files(
    version: DatasetVersion,
    entries: Sequence[ManifestEntry],
    destination: Path,
    fetch: Fetch | None,
    progress: Progress | None = None,
) -> Path:
    """Every file of `version` under `destination`: fetched beside its place, checked against
    its digest, then renamed into place, so a file that does not match is never written. Files
    of a by-reference version (`fetch` None) are read where they stay, at its source URL."""
    destination.mkdir(parents=True, exist_ok=True)
    if fetch is None and version.source_url:
        forget_listings(version.source_url)
    total, done = sum(e.size for e in entries), 0
    for entry in entries:
        target = destination.joinpath(*entry.path.split("/"))
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, partial = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        os.close(fd)
        try:
            if fetch is not None:
                fetch(entry, Path(partial))
            else:
                _fetch_reference(version, entry, Path(partial))
            with open(partial, "rb") as written:
                digest, _ = hash_stream(written)
            if digest != entry.digest:
                where = f"at {version.source_url} " if version.by_reference else ""
                raise Conflict(
                    f"file {entry.path!r} of {version.ref} changed {where}since it was registered "
                    f"(it hashes to {digest}, not {entry.digest}); it was not written",
                    details={"path": entry.path},
                )
            os.replace(partial, target)
        finally:
            Path(partial).unlink(missing_ok=True)
        done += entry.size
        if progress:
            progress("writing", done, total)
    return destination


def _fetch_reference(version: DatasetVersion, entry: ManifestEntry, target: Path) -> None:
    assert version.source_url is not None
    try:
        copy_out(version.source_url, entry.path, target)
    except FileNotFoundError:
        raise Conflict(
            f"file {entry.path!r} of {version.ref} vanished from {version.source_url}",
            details={"path": entry.path},
        ) from None
