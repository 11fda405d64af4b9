"""Dataset versions: the rules, once. The SDK (embedded and through the routes) and the CLI call these.

register(name, source, ...)        prepare here (hash, profile), store new content, create
missing_blobs(digests)             which contents the blob store lacks (a remote upload's first ask)
store_blob(digest, stream)         one content, checked against its digest
store_blobs({digest: path})        many local files, flushed to disk together
create_version(new, actor=)        a version from a manifest whose contents are all stored
get_version / list_versions / list_datasets / version_files / read_profile
check_references(version)          a by-reference version's files still as registered
download(version, dest)            the exact bytes back, verified
referenced_blobs()                 every blob a version refers to (garbage collection keeps them)
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.blobs import BlobNotFound, BlobRef
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_artifact_path, check_int, check_name
from plimsoll.data import store
from plimsoll.data.entities import (
    CheckFailure,
    Dataset,
    DatasetVersion,
    ManifestEntry,
    NewVersion,
    Validation,
    VersionDiff,
    check_dataset_name,
    check_digest,
    check_new_version,
    check_run_direction,
    parse_ref,
    schema_from_json,
    schema_to_json,
)
from plimsoll.data.hashing import STORE_BATCH, HashCache, Progress, upload_batches
from plimsoll.data.preparing import check_references, prepare, write_files
from plimsoll.data.profiles import diff_with_drift, is_tabular, read_table, summary_of
from plimsoll.data.sources import open_at
from plimsoll.lineage.entities import DatasetFacts, check_context

if TYPE_CHECKING:
    from plimsoll.stats import TableSummary

MAX_DIGESTS_PER_ASK = 10_000


# What keeps a dataset version from being deleted without `force`: the things that depend on it.
PROTECTING_KINDS: tuple[str, ...] = ("model", "deployment")


class DatasetService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.blobs = parts.blobs
        self.events = parts.events
        self.projects = parts.projects
        self.tracking = parts.services.get("tracking")
        self.lineage = parts.services.get("lineage")
        if self.lineage is not None:
            # What a version's node in the graph does not hold, for the OpenLineage events.
            self.lineage.add_describer("dataset", self.lineage_facts)

    # -- registering ------------------------------------------------------------------------------

    def register(
        self,
        name: str,
        source: Any,
        *,
        project: str = DEFAULT_PROJECT,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        by_reference: bool = False,
        run_id: str | None = None,
        actor: str,
        cache: HashCache | None = None,
        progress: Progress | None = None,
    ) -> DatasetVersion:
        """Hash and profile `source` here, store the contents the blob store lacks (nothing by
        reference), then create the version in one transaction. The same content under the same
        name gives back the existing version."""
        template = self.check_new(
            NewVersion(
                name,
                project,
                (),
                run_id=run_id,
                by_reference=by_reference,
                description=description or "",
                tags=dict(tags or {}),
            ),
            manifest=False,
        )
        with prepare(source, template, cache=cache, progress=progress) as prepared:
            missing = {
                d: prepared.paths[d] for d in self.missing_blobs(list(prepared.paths), project=project)
            }
            done, total = 0, sum(path.stat().st_size for path in missing.values())
            for batch in upload_batches(missing, *STORE_BATCH):
                try:
                    self.store_blobs(batch, project=project)
                except Conflict as exc:
                    if exc.details.get("field") != "digest":
                        raise
                    raise _changed_since_hashed(exc, prepared.version.manifest) from exc
                done += sum(path.stat().st_size for path in batch.values())
                if progress:
                    progress("storing", done, total)
            version = prepared.version
            if prepared.profile_bytes is not None:
                version = replace(version, profile_digest=self.blobs.put_bytes(prepared.profile_bytes).digest)
            return self.create_version(version, actor=actor)

    def check_new(self, new: NewVersion, *, manifest: bool = True) -> NewVersion:
        return check_new_version(new, manifest=manifest)

    def missing_blobs(self, digests: Sequence[str], *, project: str = DEFAULT_PROJECT) -> list[str]:
        """The digests among `digests` whose content the blob store does not hold (asked for a
        registration in `project`)."""
        check_name("project", project)
        if len(digests) > MAX_DIGESTS_PER_ASK:
            raise InvalidParameter(
                "digests", f"holds {len(digests)} digests; the limit is {MAX_DIGESTS_PER_ASK} per ask"
            )
        wanted = sorted({check_digest(f"digests[{i}]", d) for i, d in enumerate(digests)})
        return [digest for digest in wanted if not self.blobs.exists(digest)]

    def store_blob(
        self, digest: str, content: IO[bytes] | Path, *, project: str = DEFAULT_PROJECT
    ) -> BlobRef:
        """Store one content sent for a registration in `project`; refused unless it hashes to `digest`."""
        check_digest("digest", digest)
        check_name("project", project)
        ref = self.blobs.put_file(content)
        if ref.digest != digest:
            # Well-formed both, but not each other's: the body contradicts the digest it was sent for.
            raise Conflict(
                f"digest: the content sent hashes to {ref.digest}, not to {digest}",
                details={"field": "digest", "actual": ref.digest},
            )
        return ref

    def store_blobs(self, contents: Mapping[str, Path], *, project: str = DEFAULT_PROJECT) -> None:
        """`store_blob` for many local files at once (digest → path), flushed to disk together:
        what an embedded registration of many small files stores. Refused, naming the digest,
        for a file that no longer hashes to the digest it was sent for; the others are kept."""
        check_name("project", project)
        digests = [check_digest(f"contents[{i}]", d) for i, d in enumerate(contents)]
        refs = self.blobs.put_files([contents[digest] for digest in digests])
        for digest, ref in zip(digests, refs, strict=True):
            if ref.digest != digest:
                raise Conflict(
                    f"digest: the content sent for {digest} hashes to {ref.digest}",
                    details={"field": "digest", "digest": digest, "actual": ref.digest},
                )

    def create_version(self, new: NewVersion, *, actor: str) -> DatasetVersion:
        """The version, from a manifest whose contents are stored (unless by reference): one
        transaction, so an interrupted registration leaves nothing and the next completes."""
        new = self.check_new(new)
        if (
            new.run_id is not None
            and self.tracking is not None
            and not self.tracking.run_projects([new.run_id])
        ):
            raise NotFound(f"run {new.run_id!r} not found")
        digest = new.digest
        with self.db.read() as conn:
            # Unchanged content (the common case of a pipeline step run again): answered without
            # checking each file's content is stored, which it is while the version lives.
            registered = store.live_version_with_digest(conn, new.project, new.name, digest)
        if registered is not None:
            return _version(registered)
        if not new.by_reference:
            for entry in new.manifest:
                try:
                    stored: int | None = self.blobs.size(entry.digest)  # one stat (or HEAD) a file
                except BlobNotFound:
                    stored = None
                if stored != entry.size:
                    raise Conflict(
                        f"file {entry.path!r} (digest {entry.digest}) is not stored: upload its content first",
                        details={"path": entry.path, "digest": entry.digest},
                    )
        if new.profile_digest is not None:
            summary_of(self.blobs.get_bytes(new.profile_digest))  # a stored, readable profile
        now = now_ms()
        with self._change(actor) as change:
            self.projects.require_in(change.conn, new.project)
            dataset_id = store.lock_dataset(change.conn, new_id(), new.project, new.name, now)
            existing = store.version_with_digest(change.conn, dataset_id, digest)
            if existing is not None and not existing[1]:
                return _version(store.version_row_by_id(change.conn, existing[0]))
            # The content described afresh: a new version's row, or a deleted one's brought back
            # under its number with what this registration says (by copy or reference, profile).
            described: dict[str, Any] = {
                "rows": new.rows,
                "schema": schema_to_json(new.schema),
                "profile_digest": new.profile_digest,
                "run_id": new.run_id,
                "by_reference": new.by_reference,
                "source_url": new.source_url,
            }
            version_id = new_id() if existing is None else existing[0]
            files = [{"version_id": version_id, **e.to_dict()} for e in new.manifest]
            before: dict[str, Any] | None = None
            if existing is not None:  # deleted: the same content brings it back, under its number
                action = "dataset.restore"
                before = _audited(_version(store.version_row_by_id(change.conn, version_id)))
                store.restore_version(change.conn, version_id, described, files)
            else:
                action = "dataset.register"
                row: dict[str, Any] = {
                    "id": version_id,
                    "dataset_id": dataset_id,
                    "version": store.next_version(change.conn, dataset_id),
                    "digest": digest,
                    "files": len(new.manifest),
                    "bytes": sum(e.size for e in new.manifest),
                    "created_by": actor,
                    "created_at": now,
                    "description": new.description,
                    "tags": json.dumps(new.tags, sort_keys=True),
                    **described,
                }
                store.insert_version(change.conn, row, files)
            version = _version(store.version_row_by_id(change.conn, version_id))
            change.audit(
                AuditEntry(
                    actor, action, "dataset_version", version_id, new.project, before, _audited(version)
                )
            )
            change.emit(
                "dataset.version_registered",
                f"dataset:{dataset_id}",
                {
                    "dataset": new.name,
                    "version": version.version,
                    "digest": digest,
                    "project": new.project,
                    "files": version.files,
                    "bytes": version.bytes,
                    "rows": version.rows,
                    "run_id": new.run_id,
                    "by_reference": new.by_reference,
                },
                project=new.project,
            )
            self._record_lineage(change, version)
        return version

    def delete_version(
        self, name: str, version: int, *, project: str = DEFAULT_PROJECT, force: bool = False, actor: str
    ) -> DatasetVersion:
        """Delete one version: its manifest goes (its contents are then garbage unless another
        version holds them) and its node stays in the lineage graph as a tombstone, so what was
        made from it still says from what. Its number is never given again; registering the same
        content brings it back. A version that a model version or a deployment depends on
        (downstream in the lineage graph, through runs and derived data) is kept unless `force`:
        the Conflict names them."""
        check_dataset_name("name", name)
        check_name("project", project)
        with self._change(actor) as change:
            # Locked like a registration of the dataset: none of its content can be registered
            # (or brought back) while it is deleted, and two deletions do not both pass.
            self.projects.require_in(change.conn, project)
            dataset_id = store.lock_dataset(change.conn, new_id(), project, name, now_ms())
            row = store.version_row(change.conn, project, name, version)
            if row is None:
                raise _no_version(name, version, project)
            found = _version(row)
            node = _node_id(found)
            # Read beside the change (the graph's own connection): an edge added at this very
            # moment may be missed, never one already recorded.
            dependents = (
                [] if self.lineage is None else self.lineage.dependents(project, node, PROTECTING_KINDS)
            )
            if dependents and not force:
                names = [d.id for d in dependents]
                shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                raise Conflict(
                    f"{found.ref} is kept: {shown} depend{'s' if len(names) == 1 else ''} on it; "
                    "delete it anyway with force (--force), which leaves it in the lineage graph as deleted",
                    details={"dependents": names},
                )
            store.mark_deleted(change.conn, row["id"], now_ms())
            forced = {"forced": bool(dependents), "dependents": [d.id for d in dependents]}
            change.audit(
                AuditEntry(
                    actor, "dataset.delete", "dataset_version", row["id"], project, _audited(found), forced
                )
            )
            change.emit(
                "dataset.version_deleted",
                f"dataset:{dataset_id}",  # the registrations' key: one order for a dataset's events
                {"dataset": name, "version": version, "digest": found.digest, "project": project},
                project=project,
            )
            if self.lineage is not None:
                self.lineage.tombstone(change, node, project=project)
        return found

    def _record_lineage(self, change: Change, version: DatasetVersion) -> None:
        """The version's node in the lineage graph, and the run that registered it as the one
        that produced it, in the same transaction as the version itself."""
        if self.lineage is None:  # a platform built without the lineage capability
            return
        node = _node_id(version)
        attributes = {"digest": version.digest, "files": version.files, "bytes": version.bytes}
        if version.rows is not None:
            attributes["rows"] = version.rows
        self.lineage.record(change, node, project=version.project, label=version.ref, attributes=attributes)
        self.lineage.restore(change, node, project=version.project)  # registered again after a deletion
        if version.run_id:
            self.lineage.link(change, f"run:{version.run_id}", node, "produced", project=version.project)

    def lineage_facts(self, project: str, keys: Sequence[str]) -> dict[str, DatasetFacts]:
        """The columns and description of these versions (`NAME@VERSION`, as the lineage graph
        names them) by key, deleted ones too, since their nodes stay in the graph."""
        check_name("project", project)
        refs = [
            (name, int(number))
            for name, _, number in (key.partition("@") for key in keys)
            if number.isdigit()
        ]
        with self.db.read() as conn:
            rows = store.version_rows_by_ref(conn, project, refs)
        facts: dict[str, DatasetFacts] = {}
        for row in rows:
            schema = schema_from_json(row["schema"])
            columns = None if schema is None else tuple((column.name, column.type) for column in schema)
            facts[f"{row['name']}@{row['version']}"] = DatasetFacts(columns, row["description"] or "")
        return facts

    def link_run(
        self,
        run_id: str,
        ref: str,
        *,
        direction: str,
        context: str | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> DatasetVersion:
        """Record that run `run_id` read (`direction="input"`, in `context`: training, validation,
        test or evaluation) or wrote (`"output"`) the dataset version `ref` (`NAME@VERSION`, or
        `NAME` for the latest, recorded as the exact version it is now). Both live in `project`,
        the run's experiment's. Idempotent; the same input with another context is a Conflict."""
        name, number = parse_ref("dataset", ref)
        check_name("project", project)
        check_run_direction("direction", direction)
        context = check_context("context", context)
        if direction == "output" and context is not None:
            raise InvalidParameter("context", "says how a run used its input; an output has none")
        if self.lineage is None:
            raise Conflict("this platform is built without the lineage capability: nothing to link in")
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            row = store.version_row(change.conn, project, name, number)
            if row is None:
                raise _no_version(name, number, project)
            version = _version(row)
            dataset, run = _node_id(version), f"run:{run_id}"
            if direction == "input":
                self.lineage.link(change, dataset, run, "used", context, project=project)
            else:
                self.lineage.link(change, run, dataset, "produced", project=project)
        return version

    # -- validation -------------------------------------------------------------------------------

    def validate(
        self,
        name: str,
        version: int | None,
        schema: str,
        *,
        project: str = DEFAULT_PROJECT,
        min_rows: int | None = None,
        max_rows: int | None = None,
        actor: str,
    ) -> Validation:
        """Run the pandera schema `schema` (YAML) on every tabular file of the version, and the row
        bounds on all of them together; store the outcome with its evidence (each failing check,
        how many failed, a few of them), which becomes the version's `validation`. A version with
        no tabular file is refused: there is nothing to check."""
        from plimsoll.data.validation import load_schema, run_checks

        checked = load_schema(schema)
        for field_name, bound in (("min_rows", min_rows), ("max_rows", max_rows)):
            if bound is not None:
                check_int(field_name, bound, minimum=0)
        found = self.get_version(name, version, project=project)
        tables = [e for e in self.version_files(found) if is_tabular(e.path)]
        if not tables:
            raise Conflict(f"{found.ref} holds no Parquet or CSV file to validate")
        frames = ((e.path, read_table(e.path, self._opener(found, e)).to_pandas()) for e in tables)
        outcome = run_checks(checked, frames)
        failures = list(outcome.failures)
        for bound, too_few in ((min_rows, True), (max_rows, False)):
            if bound is not None and (outcome.rows < bound if too_few else outcome.rows > bound):
                check = f"{'at least' if too_few else 'at most'} {bound:,} rows"
                failures.append(CheckFailure(None, check, outcome.rows, (f"{outcome.rows:,} rows",)))
        passed = not failures
        row = {
            "id": new_id(),
            "passed": passed,
            "rows": outcome.rows,
            "failures": json.dumps([f.to_dict() for f in failures]),
            "schema": schema,
            "created_by": actor,
            "created_at": now_ms(),
        }
        with self._change(actor) as change:
            live = store.version_row(change.conn, project, found.name, found.version)
            if live is None:  # deleted while it was being read
                raise _no_version(found.name, found.version, project)
            row["version_id"] = live["id"]
            store.insert_validation(change.conn, row, "passed" if passed else "failed")
            validation = _validation(row, found)
            summary = {"passed": passed, "rows": outcome.rows, "failed_checks": len(failures)}
            change.audit(
                AuditEntry(actor, "dataset.validate", "dataset_version", live["id"], project, None, summary)
            )
            change.emit(
                "dataset.validated",
                f"dataset:{live['dataset_id']}",  # the registrations' key: one order per dataset
                {"dataset": found.name, "version": found.version, "project": project, **summary},
                project=project,
            )
        return validation

    def list_validations(
        self, name: str, version: int, *, project: str = DEFAULT_PROJECT
    ) -> list[Validation]:
        """The version's validations, newest first."""
        check_dataset_name("name", name)
        check_name("project", project)
        with self.db.read() as conn:
            row = store.version_row(conn, project, name, version)
            if row is None:
                raise _no_version(name, version, project)
            rows = store.validation_rows(conn, row["id"])
        found = _version(row)
        return [_validation(validation, found) for validation in rows]

    def _opener(self, version: DatasetVersion, entry: ManifestEntry) -> Any:
        if version.by_reference and version.source_url:
            return partial(open_at, version.source_url, entry.path)
        # Parquet seeks; a stored blob is read whole (and checked against its digest) instead.
        return lambda: io.BytesIO(self.blobs.get_bytes(entry.digest))

    # -- reading ----------------------------------------------------------------------------------

    def get_version(
        self, name: str, version: int | None = None, *, project: str = DEFAULT_PROJECT
    ) -> DatasetVersion:
        """A version by number, or the latest."""
        check_dataset_name("name", name)
        check_name("project", project)
        with self.db.read() as conn:
            row = store.version_row(conn, project, name, version)
        if row is None:
            raise _no_version(name, version, project)
        return _version(row)

    def read_table(self, name: str, version: int | None = None, *, project: str = DEFAULT_PROJECT) -> Any:
        """The version's tabular files (Parquet, CSV) as one Arrow table, columns unified by name
        (a column a file lacks is null there); refused when it holds none."""
        import pyarrow as pa

        found = self.get_version(name, version, project=project)
        tables = [e for e in self.version_files(found) if is_tabular(e.path)]
        if not tables:
            raise Conflict(f"{found.ref} holds no Parquet or CSV file to read as a table")
        parts = [read_table(e.path, self._opener(found, e)) for e in tables]
        return pa.concat_tables(parts, promote_options="permissive")

    def list_versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> list[DatasetVersion]:
        check_dataset_name("name", name)
        check_name("project", project)
        with self.db.read() as conn:
            rows = store.version_rows(conn, project, name)
        if not rows:
            raise NotFound(f"dataset {name!r} not found in project {project!r}")
        return [_version(row) for row in rows]

    def list_datasets(self, *, project: str = DEFAULT_PROJECT) -> list[Dataset]:
        check_name("project", project)
        with self.db.read() as conn:
            found = store.dataset_rows(conn, project)
        return [Dataset(row["name"], row["project"], created_at, _version(row)) for created_at, row in found]

    def version_files(self, version: DatasetVersion) -> list[ManifestEntry]:
        with self.db.read() as conn:
            row = store.version_row(conn, version.project, version.name, version.version)
            if row is None:
                raise NotFound(f"dataset version {version.ref!r} not found in project {version.project!r}")
            return [
                ManifestEntry(r["path"], r["digest"], r["size"]) for r in store.file_rows(conn, row["id"])
            ]

    def file_entry(self, version: DatasetVersion, path: str) -> ManifestEntry:
        check_artifact_path("path", path)
        for entry in self.version_files(version):
            if entry.path == path:
                return entry
        raise NotFound(f"dataset version {version.ref!r} has no file {path!r}")

    def iter_file(self, entry: ManifestEntry, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        """A stored file's bytes, all of them checked against the digest before this returns."""
        return self.blobs.verified_chunks(entry.digest, chunk_size)

    def read_profile(self, version: DatasetVersion) -> TableSummary | None:
        data = self._profile_bytes(version)
        return None if data is None else summary_of(data)

    def diff(self, old: DatasetVersion, new: DatasetVersion) -> VersionDiff:
        """Files, columns and rows that changed, and the drift verdict on each shared column."""
        profile = self._profile_bytes
        return diff_with_drift(
            old, self.version_files(old), profile(old), new, self.version_files(new), profile(new)
        )

    def _profile_bytes(self, version: DatasetVersion) -> bytes | None:
        return None if version.profile_digest is None else self.blobs.get_bytes(version.profile_digest)

    def check_references(self, version: DatasetVersion) -> None:
        """Conflict naming each file of a by-reference version that changed or vanished."""
        if version.by_reference and version.source_url:
            check_references(version.source_url, self.version_files(version))

    def download(self, version: DatasetVersion, destination: str | os.PathLike[str]) -> Path:
        """Every file of the version under `destination`, its exact bytes, each verified against
        its digest (by reference: read where it stays)."""

        def fetch(entry: ManifestEntry, target: Path) -> None:
            self.blobs.copy_to(entry.digest, target)

        by_copy = None if version.by_reference else fetch
        return write_files(version, self.version_files(version), Path(destination), by_copy)

    def referenced_blobs(self) -> set[str]:
        with self.db.read() as conn:
            return store.referenced_digests(conn)

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)


def _changed_since_hashed(refused: Conflict, manifest: Sequence[ManifestEntry]) -> Conflict:
    digest = refused.details.get("digest")
    path = next((e.path for e in manifest if e.digest == digest), digest)
    return Conflict(
        f"file {path!r} changed after it was hashed (it now hashes to {refused.details.get('actual')}); "
        "nothing was registered",
        details={"path": path},
    )


def _no_version(name: str, number: int | None, project: str) -> NotFound:
    which = "has no versions" if number is None else f"has no version {number}"
    return NotFound(f"dataset {name!r} {which} in project {project!r}")


def _audited(version: DatasetVersion) -> dict[str, Any]:
    """A version as the audit log keeps it: all but its schema (the profile's digest says it)."""
    return {k: v for k, v in version.to_dict().items() if k != "schema"}


def _node_id(version: DatasetVersion) -> str:
    """The version's node in the lineage graph."""
    return f"dataset:{version.ref}"


def _validation(row: Any, version: DatasetVersion) -> Validation:
    return Validation(
        id=row["id"],
        dataset=version.name,
        version=version.version,
        project=version.project,
        passed=bool(row["passed"]),
        rows=int(row["rows"]),
        failures=tuple(CheckFailure.from_dict(f) for f in json.loads(row["failures"])),
        schema=row["schema"],
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
    )


def _version(row: Any) -> DatasetVersion:
    return DatasetVersion(
        name=row["name"],
        project=row["project"],
        version=int(row["version"]),
        digest=row["digest"],
        files=int(row["files"]),
        bytes=int(row["bytes"]),
        rows=None if row["rows"] is None else int(row["rows"]),
        schema=schema_from_json(row["schema"]),
        profile_digest=row["profile_digest"],
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        run_id=row["run_id"],
        by_reference=bool(row["by_reference"]),
        source_url=row["source_url"],
        description=row["description"],
        tags=json.loads(row["tags"]),
        validation=row["validation"],
    )
