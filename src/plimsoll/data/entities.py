"""Datasets and their versions: typed records, the naming rules and the manifest's identity (no I/O).

A dataset is a name in a project; each version is a manifest (relative path -> BLAKE3 digest and
size of each file) whose own digest is the version's identity, so the same content under the same
name is the same version.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from blake3 import blake3

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.validation import (
    MAX_DESCRIPTION_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    REFERENCE_NAME_PATTERN,
    check_artifact_path,
    check_id,
    check_key,
    check_name,
    check_reference_name,
    check_text,
    parse_int_text,
    printable,
)

MAX_DATASET_NAME_LENGTH = 200
MAX_FILES_PER_VERSION = 1_000_000
MAX_SOURCE_URL_LENGTH = 2048
MAX_TAGS = 100
MAX_VERSION = 10**18 - 1
# A name is written NAME@VERSION on the command line and may be part of a URL or a bucket key.
_DIGEST = re.compile(r"[0-9a-f]{64}")
# What the manifest digest is computed over: one line per file, sorted by path (format 1).
MANIFEST_FORMAT = 1


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file of a version: where it sits under the version's root, and its content."""

    path: str
    digest: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "digest": self.digest, "size": self.size}


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str  # Arrow's name of the type: int64, double, string, timestamp[us], ...


@dataclass(frozen=True)
class DatasetVersion:
    """One version of a dataset. `rows`, `schema` and `profile_digest` are set for tabular data
    (Parquet and CSV files, data frames) and None otherwise; `source_url` for a version registered
    by reference, whose files stay where they are."""

    name: str
    project: str
    version: int
    digest: str
    files: int
    bytes: int
    rows: int | None
    schema: tuple[Column, ...] | None
    profile_digest: str | None
    created_by: str
    created_at: int
    run_id: str | None = None
    by_reference: bool = False
    source_url: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    # The outcome of the latest validation ("passed" or "failed"), None before any: what a gate
    # or a reader checks before using the version.
    validation: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def __repr__(self) -> str:
        rows = "" if self.rows is None else f", rows={self.rows}"
        checked = "" if self.validation is None else f" validation={self.validation}"
        return f"<DatasetVersion {self.ref} {self.digest[:12]} files={self.files} bytes={self.bytes}{rows}{checked}>"

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        document["schema"] = None if self.schema is None else [asdict(c) for c in self.schema]
        return document

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> DatasetVersion:
        schema = body.get("schema")
        return cls(
            **{
                **body,
                "schema": None if schema is None else tuple(Column(c["name"], c["type"]) for c in schema),
                "tags": dict(body.get("tags") or {}),
            }
        )


@dataclass(frozen=True)
class CheckFailure:
    """One check that failed on one column (None: the table as a whole): how many values (or
    rows) failed it, and a few of them, as evidence."""

    column: str | None
    check: str
    failures: int
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "examples": list(self.examples)}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> CheckFailure:
        return cls(body["column"], body["check"], int(body["failures"]), tuple(body.get("examples") or ()))


@dataclass(frozen=True)
class Validation:
    """A pandera schema run against every tabular file of a version, and what failed."""

    id: str
    dataset: str
    version: int
    project: str
    passed: bool
    rows: int
    failures: tuple[CheckFailure, ...]
    schema: str  # the schema, as pandera's YAML
    created_by: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "failures": [f.to_dict() for f in self.failures]}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Validation:
        failures = tuple(CheckFailure.from_dict(f) for f in body.get("failures") or ())
        return cls(**{**body, "failures": failures})


@dataclass(frozen=True)
class Dataset:
    """A dataset name in a project, with its newest version."""

    name: str
    project: str
    created_at: int
    latest: DatasetVersion

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project": self.project,
            "created_at": self.created_at,
            "latest": self.latest.to_dict(),
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Dataset:
        return cls(
            body["name"], body["project"], body["created_at"], DatasetVersion.from_dict(body["latest"])
        )


@dataclass(frozen=True)
class NewVersion:
    """What a registration sends once every file is hashed (and, unless by reference, stored):
    the manifest and what was learnt reading the files."""

    name: str
    project: str
    manifest: tuple[ManifestEntry, ...]
    rows: int | None = None
    schema: tuple[Column, ...] | None = None
    profile_digest: str | None = None
    run_id: str | None = None
    by_reference: bool = False
    source_url: str | None = None
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return manifest_digest(self.manifest)


@dataclass(frozen=True)
class FileChange:
    path: str
    old: ManifestEntry | None  # None: added
    new: ManifestEntry | None  # None: removed

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"


@dataclass(frozen=True)
class VersionDiff:
    """What changed from `old` to `new`: files added, removed or changed (by path and digest),
    and the schema's columns added, removed or retyped."""

    old: DatasetVersion
    new: DatasetVersion
    files: tuple[FileChange, ...]
    columns_added: tuple[Column, ...] = ()
    columns_removed: tuple[Column, ...] = ()
    columns_retyped: tuple[tuple[Column, Column], ...] = ()
    # The statistics engine's verdict on each column the two profiles share (`stats.DriftReport`),
    # None when either version has no profile.
    drift: Any = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "old": self.old.ref,
            "new": self.new.ref,
            "rows": {"old": self.old.rows, "new": self.new.rows},
            "files": [
                {
                    "path": c.path,
                    "change": c.kind,
                    "old": None if c.old is None else c.old.to_dict(),
                    "new": None if c.new is None else c.new.to_dict(),
                }
                for c in self.files
            ],
            "columns_added": [asdict(c) for c in self.columns_added],
            "columns_removed": [asdict(c) for c in self.columns_removed],
            "columns_retyped": [
                {"name": a.name, "old": a.type, "new": b.type} for a, b in self.columns_retyped
            ],
            "drift": None if self.drift is None else self.drift.to_dict(),
        }


def diff_versions(
    old: DatasetVersion,
    old_files: Iterable[ManifestEntry],
    new: DatasetVersion,
    new_files: Iterable[ManifestEntry],
) -> VersionDiff:
    before = {e.path: e for e in old_files}
    after = {e.path: e for e in new_files}
    changes = tuple(
        FileChange(path, before.get(path), after.get(path))
        for path in sorted(before.keys() | after.keys())
        if before.get(path) != after.get(path)
    )
    old_columns = {c.name: c for c in old.schema or ()}
    new_columns = {c.name: c for c in new.schema or ()}
    return VersionDiff(
        old,
        new,
        changes,
        tuple(c for name, c in new_columns.items() if name not in old_columns),
        tuple(c for name, c in old_columns.items() if name not in new_columns),
        tuple(
            (old_columns[name], c)
            for name, c in new_columns.items()
            if name in old_columns and old_columns[name].type != c.type
        ),
    )


def check_dataset_name(field_name: str, value: Any) -> str:
    """A project-style name up to 200 characters, without '@', '/' or ':' (`NAME@VERSION` must read
    one way)."""
    return check_reference_name(field_name, value, max_length=MAX_DATASET_NAME_LENGTH)


def check_digest(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _DIGEST.fullmatch(value):
        raise InvalidParameter(
            field_name, f"must be 64 lowercase hex characters (a BLAKE3 digest), got {value!r}"
        )
    return value


def check_manifest(entries: Iterable[Any]) -> tuple[ManifestEntry, ...]:
    """A manifest as the service stores it: relative paths (no '..', no absolute path, no
    backslash), each once, sorted; digests and sizes well formed; at least one file."""
    checked: list[ManifestEntry] = []
    for index, entry in enumerate(entries):
        where = f"manifest[{index}]"
        if not isinstance(entry, ManifestEntry):
            raise InvalidParameter(where, f"must be a ManifestEntry, got {type(entry).__name__}")
        check_artifact_path(f"{where}.path", entry.path)
        check_digest(f"{where}.digest", entry.digest)
        if isinstance(entry.size, bool) or not isinstance(entry.size, int) or entry.size < 0:
            raise InvalidParameter(
                f"{where}.size", f"must be a whole number of bytes >= 0, got {entry.size!r}"
            )
        checked.append(entry)
        if len(checked) > MAX_FILES_PER_VERSION:
            raise InvalidParameter("manifest", f"has more than {MAX_FILES_PER_VERSION} files, the limit")
    if not checked:
        raise InvalidParameter("manifest", "is empty: a dataset version needs at least one file")
    checked.sort(key=lambda e: e.path)
    for before, after in itertools.pairwise(checked):
        if before.path == after.path:
            # Each entry is well formed; together they contradict each other.
            raise Conflict(f"manifest: names the file {after.path!r} twice", details={"field": "manifest"})
    return tuple(checked)


def check_new_version(new: NewVersion, *, manifest: bool = True) -> NewVersion:
    """Every field of a registration checked, naming the field and its limit; with `manifest`,
    the manifest too (returned checked and sorted)."""
    check_dataset_name("name", new.name)
    check_name("project", new.project)
    check_text("description", new.description, max_length=MAX_DESCRIPTION_LENGTH)
    if not isinstance(new.tags, dict) or len(new.tags) > MAX_TAGS:
        raise InvalidParameter("tags", f"must be a mapping of at most {MAX_TAGS} tags")
    for key, value in new.tags.items():
        check_key("tags", key)
        check_text(f"tags.{key}", value, max_length=MAX_TAG_VALUE_LENGTH)
    if new.run_id is not None:
        check_id("run_id", new.run_id)
    if new.source_url is not None:
        check_text("source_url", new.source_url, max_length=MAX_SOURCE_URL_LENGTH)
    if new.profile_digest is not None:
        check_digest("profile_digest", new.profile_digest)
    if new.rows is not None and (isinstance(new.rows, bool) or not isinstance(new.rows, int) or new.rows < 0):
        raise InvalidParameter("rows", f"must be a whole number >= 0, got {new.rows!r}")
    if not manifest:
        return new
    if new.by_reference and not new.source_url:
        raise Conflict(
            "source_url: a version registered by reference needs the URL its files stay at",
            details={"field": "source_url"},
        )
    return replace(new, manifest=check_manifest(new.manifest))


def manifest_digest(entries: Iterable[ManifestEntry]) -> str:
    """The version's identity: BLAKE3 over one line `path NUL digest NUL size LF` per file, in
    path order, after a header naming the format. Every file counts, whole: its digest is over
    all of its bytes."""
    hasher = blake3(f"plimsoll-dataset-manifest {MANIFEST_FORMAT}\n".encode())
    for entry in sorted(entries, key=lambda e: e.path):
        hasher.update(f"{entry.path}\0{entry.digest}\0{entry.size}\n".encode())
    return hasher.hexdigest()


def parse_version(field_name: str, text: str) -> int | None:
    """A version as a URL writes it: `latest` (None) or a number from 1."""
    if text == "latest":
        return None
    return parse_int_text(field_name, text, minimum=1, maximum=MAX_VERSION)


# How a run relates to a dataset version: it read it (an input) or wrote it (an output).
RUN_DIRECTIONS: tuple[str, ...] = ("input", "output")


def check_run_direction(field_name: str, value: str) -> str:
    if value not in RUN_DIRECTIONS:
        raise InvalidParameter(
            field_name, f"must be one of {', '.join(RUN_DIRECTIONS)}; got {printable(value)!r}"
        )
    return value


def parse_ref(field_name: str, text: str) -> tuple[str, int | None]:
    """`NAME` (the latest version) or `NAME@VERSION` (a number from 1)."""
    name, at, version = text.rpartition("@") if "@" in text else (text, "", "")
    check_dataset_name(field_name, name)
    if not at:
        return name, None
    if not version.isascii() or not version.isdigit() or not 1 <= int(version) <= MAX_VERSION:
        raise InvalidParameter(
            field_name, f"version must be a whole number from 1, got {version!r} in {text!r}"
        )
    return name, int(version)


def schema_to_json(schema: tuple[Column, ...] | None) -> str | None:
    return None if schema is None else json.dumps([[c.name, c.type] for c in schema])


def schema_from_json(text: str | None) -> tuple[Column, ...] | None:
    return None if text is None else tuple(Column(name, kind) for name, kind in json.loads(text))


DATASET_NAME_PATTERN = REFERENCE_NAME_PATTERN
VERSION_PATTERN = r"^(?:latest|[1-9][0-9]{0,17})$"
DIGEST_PATTERN = r"^[0-9a-f]{64}$"
