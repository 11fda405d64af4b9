"""`client.datasets` (and `pl.datasets`): register, read and fetch dataset versions, embedded or remote.

A registration is prepared here, where the files are (hashed with the local cache, tabular files
profiled); then the server (or the embedded store) is asked which contents it lacks, only those
are uploaded, and the version is created from the manifest in one transaction. A process killed
midway leaves uploaded contents and no version; the next attempt uploads what is still missing.
"""

from __future__ import annotations

import builtins
import itertools
import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.data.entities import (
    Dataset,
    DatasetVersion,
    ManifestEntry,
    NewVersion,
    Validation,
    VersionDiff,
    parse_ref,
)
from plimsoll.data.hashing import HashCache, Progress, upload_batches

if TYPE_CHECKING:
    from plimsoll.client.client import Client
    from plimsoll.client.transport import Transport
    from plimsoll.stats import TableSummary

UPLOAD_ASK_SIZE = 5000  # digests per "which do you lack?" request
# Batches of uploads in flight at once: storing ends in a flush to disk (or round trips), which overlap.
UPLOAD_THREADS = 4


class Datasets:
    """Dataset versions through a `Client`: `register`, `get`, `list`, `versions`, `files`,
    `profile`, `download`, `verify`, `diff`. A version is named `NAME` (its latest) or `NAME@VERSION`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<plimsoll datasets of {self._client.url}>"

    def register(
        self,
        name: str,
        source: Any,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        by_reference: bool = False,
        *,
        project: str = DEFAULT_PROJECT,
        progress: Progress | None = None,
        cache: HashCache | None = None,
        schema: Any = None,
    ) -> DatasetVersion:
        """Register `source` (a file, a folder, an fsspec URL, a pandas or polars DataFrame or an
        Arrow table) as a version of dataset `name`. The same content gives back the version that
        holds it. Inside an active run, the version records the run. `by_reference=True` leaves
        the files where they are and records their digests and the source's URL. With a pandera
        `schema`, the version is validated once registered (`validate`), and what is returned
        says how (`validation`)."""
        from plimsoll.data.preparing import prepare  # pandas and pyarrow, only when registering
        from plimsoll.data.validation import schema_text

        transport = self._client._transport
        run = self._client.active_run()
        if run is not None:
            self._client.flush()  # the run must exist where the version will refer to it
        template = NewVersion(
            name,
            project,
            (),
            run_id=None if run is None else run.id,
            by_reference=by_reference,
            description=description or "",
            tags={str(k): str(v) for k, v in (tags or {}).items()},
        )
        transport.dataset_check(template)  # a bad name or tag is refused before any file is read
        checks = None if schema is None else schema_text(schema)  # and a schema that is none
        own_cache = cache is None
        cache = cache or HashCache()
        try:
            with prepare(source, template, cache=cache, progress=progress) as prepared:
                wanted = list(prepared.paths)
                missing: list[str] = []
                for start in range(0, len(wanted), UPLOAD_ASK_SIZE):
                    missing += transport.dataset_missing_blobs(
                        project, wanted[start : start + UPLOAD_ASK_SIZE]
                    )
                names = {e.digest: e.path for e in prepared.version.manifest}
                _upload(transport, project, {d: prepared.paths[d] for d in missing}, names, progress)
                version = prepared.version
                if prepared.profile_bytes is not None:
                    version = replace(
                        version,
                        profile_digest=transport.dataset_upload_bytes(project, prepared.profile_bytes),
                    )
                created = transport.dataset_create_version(version)
        finally:
            if own_cache:
                cache.close()
        if checks is None:
            return created
        self.validate(created, checks)
        return transport.dataset_version(created.project, created.name, created.version)

    def get(self, ref: str, *, project: str = DEFAULT_PROJECT) -> DatasetVersion:
        """`NAME` (the latest version) or `NAME@VERSION`."""
        name, version = parse_ref("ref", ref)
        return self._client._transport.dataset_version(project, name, version)

    def list(self, *, project: str = DEFAULT_PROJECT) -> list[Dataset]:
        """Every dataset of the project, with its latest version, by name."""
        return self._client._transport.datasets(project)

    def versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> builtins.list[DatasetVersion]:
        return self._client._transport.dataset_versions(project, name)

    def files(
        self, ref: str | DatasetVersion, *, project: str = DEFAULT_PROJECT
    ) -> builtins.list[ManifestEntry]:
        """The version's manifest: each file's path, digest and size, by path."""
        return self._client._transport.dataset_files(self._version(ref, project))

    def profile(self, ref: str | DatasetVersion, *, project: str = DEFAULT_PROJECT) -> TableSummary | None:
        """The merged summary of the version's tabular files (`plimsoll.stats`), or None."""
        from plimsoll.data.profiles import summary_of

        version = self._version(ref, project)
        data = self._client._transport.dataset_profile(version)
        return None if data is None else summary_of(data)

    def download(
        self,
        ref: str | DatasetVersion,
        destination: str | os.PathLike[str],
        *,
        project: str = DEFAULT_PROJECT,
        progress: Progress | None = None,
    ) -> Path:
        """Write every file of the version under `destination`, the exact bytes, each checked
        against its digest. A by-reference version's files are read where they stay; one that
        changed or vanished is named in the Conflict raised."""
        from plimsoll.data.preparing import write_files

        version = self._version(ref, project)
        transport = self._client._transport
        entries = transport.dataset_files(version)
        fetch = None if version.by_reference else (lambda e, p: transport.dataset_file_to(version, e, p))
        return write_files(version, entries, Path(destination), fetch, progress)

    def verify(self, ref: str | DatasetVersion, *, project: str = DEFAULT_PROJECT) -> DatasetVersion:
        """A by-reference version's files still hash to their registered digests (Conflict naming
        each one that changed or vanished); a version kept by copy is verified as it is read."""
        from plimsoll.data.preparing import check_references

        version = self._version(ref, project)
        if version.by_reference and version.source_url:
            check_references(version.source_url, self._client._transport.dataset_files(version))
        return version

    def validate(
        self,
        ref: str | DatasetVersion,
        schema: Any,
        *,
        min_rows: int | None = None,
        max_rows: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Validation:
        """Check the version's tabular files against a pandera schema (a `DataFrameSchema`, its
        YAML, or a .yaml file): types, nullability, ranges, allowed values, uniqueness, registered
        custom checks; and `min_rows`/`max_rows` over all its files. The outcome is stored with
        the failing counts and a few failing values, becomes the version's `validation`, and is
        returned; a failed validation is an answer, not an exception (`passed` is False)."""
        from plimsoll.data.validation import schema_text

        text = schema_text(schema)
        return self._client._transport.dataset_validate(self._version(ref, project), text, min_rows, max_rows)

    def validations(
        self, ref: str | DatasetVersion, *, project: str = DEFAULT_PROJECT
    ) -> builtins.list[Validation]:
        """The version's validations, newest first."""
        return self._client._transport.dataset_validations(self._version(ref, project))

    def delete(
        self, ref: str | DatasetVersion, *, force: bool = False, project: str = DEFAULT_PROJECT
    ) -> DatasetVersion:
        """Delete one version (`NAME@VERSION`: a number, never "the latest" by default). Refused
        (Conflict, naming them) while a model version or a deployment depends on it, unless
        `force`; its node then stays in the lineage graph, marked deleted. Its contents are
        collected by the next garbage collection unless another version holds them; registering
        the same content again brings the version back under its number."""
        if isinstance(ref, DatasetVersion):
            name, number, project = ref.name, ref.version, ref.project
        else:
            name, found = parse_ref("ref", ref)
            if found is None:
                raise InvalidParameter(
                    "ref", f"name the version to delete ('{name}@VERSION'), not only {name!r}"
                )
            number = found
        return self._client._transport.dataset_delete(project, name, number, force)

    def diff(
        self, old: str | DatasetVersion, new: str | DatasetVersion, *, project: str = DEFAULT_PROJECT
    ) -> VersionDiff:
        """What changed between two versions (of one dataset or two): files added, removed or
        changed, columns added, removed or retyped, rows, and the statistics engine's drift
        verdict on each column their profiles share (`drift`, a `stats.DriftReport`)."""
        from plimsoll.data.profiles import diff_with_drift

        before, after = self._version(old, project), self._version(new, project)
        files, profile = self._client._transport.dataset_files, self._client._transport.dataset_profile
        return diff_with_drift(before, files(before), profile(before), after, files(after), profile(after))

    def _version(self, ref: str | DatasetVersion, project: str) -> DatasetVersion:
        return ref if isinstance(ref, DatasetVersion) else self.get(ref, project=project)


def _upload(
    transport: Transport,
    project: str,
    paths: dict[str, Path],
    names: dict[str, str],
    progress: Progress | None,
) -> None:
    """Each content sent once, in the transport's batches, UPLOAD_THREADS batches at a time.
    A new batch starts only as one ends, so a caller's slow `progress` (or a kill) stops the
    uploads, never only their reports."""
    total = sum(os.path.getsize(path) for path in paths.values())
    done = 0
    if progress and paths:
        progress("uploading", 0, total)
    waiting = upload_batches(paths, *transport.upload_batch)
    with ThreadPoolExecutor(max_workers=UPLOAD_THREADS, thread_name_prefix="plimsoll-upload") as pool:
        running: dict[Future[None], int] = {}
        try:
            while True:
                for batch in itertools.islice(waiting, UPLOAD_THREADS - len(running)):
                    size = sum(os.path.getsize(path) for path in batch.values())
                    running[pool.submit(_upload_batch, transport, project, batch, names)] = size
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    future.result()
                    done += running.pop(future)
                    if progress:
                        progress("uploading", done, total)
        except BaseException:
            for future in running:
                future.cancel()
            raise


def _upload_batch(transport: Transport, project: str, batch: dict[str, Path], names: dict[str, str]) -> None:
    try:
        transport.dataset_upload_blobs(project, batch)
    except Conflict as exc:
        digest = exc.details.get("digest")
        if exc.details.get("field") != "digest" or digest not in names:
            raise
        raise Conflict(
            f"file {names[digest]!r} changed after it was hashed (it no longer hashes to {digest}); no "
            "version was registered. Register it again once it is no longer being written.",
            details={"path": names[digest]},
        ) from exc
