"""The data capability's tables and every statement that reads or writes them. Each function takes
an open connection; the service owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    ForeignKey,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    select,
)

from plimsoll.core.db import metadata, upsert

ID = String(32)
DIGEST = String(64)

datasets = Table(
    "datasets",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project", "name"),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("dataset_id", ID, ForeignKey("datasets.id"), nullable=False),
    Column("version", BigInteger, nullable=False),  # up to MAX_VERSION, as the API admits
    Column("digest", DIGEST, nullable=False),
    Column("files", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=True),
    Column("schema", Text, nullable=True),  # JSON: [[name, type], ...]
    Column("profile_digest", DIGEST, nullable=True),
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("run_id", ID, nullable=True, index=True),
    Column("by_reference", Boolean, nullable=False),
    Column("source_url", Text, nullable=True),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),  # JSON object
    # A deleted version keeps its row: its number is never given again, and registering its
    # content again brings it back under that number (its files' rows are gone meanwhile).
    Column("deleted_at", BigInteger, nullable=True),
    Column("validation", String(8), nullable=True),  # the latest validation: "passed" or "failed"
    UniqueConstraint("dataset_id", "version"),
    UniqueConstraint("dataset_id", "digest"),
)

dataset_files = Table(
    "dataset_files",
    metadata,
    Column("version_id", ID, ForeignKey("dataset_versions.id", ondelete="CASCADE"), primary_key=True),
    Column("path", String(1024), primary_key=True),
    Column("digest", DIGEST, nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
)

dataset_validations = Table(
    "dataset_validations",
    metadata,
    Column("id", ID, primary_key=True),
    Column(
        "version_id", ID, ForeignKey("dataset_versions.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    Column("passed", Boolean, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("failures", Text, nullable=False),  # JSON: [{column, check, failures, examples}]
    Column("schema", Text, nullable=False),  # pandera's YAML
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

TABLES = (datasets, dataset_versions, dataset_files, dataset_validations)

_INSERT_CHUNK = 5000
_VERSION_COLUMNS = [c for c in dataset_versions.c if c.name not in ("dataset_id", "deleted_at")]
_LIVE = dataset_versions.c.deleted_at.is_(None)


def lock_dataset(conn: Connection, dataset_id: str, project: str, name: str, now: int) -> str:
    """The dataset's id, its row created if new and locked until the transaction ends (on
    PostgreSQL; SQLite's one writer serialises registrations anyway), so that two registrations
    cannot take the same version number."""
    conn.execute(
        upsert(conn, datasets)
        .values(id=dataset_id, project=project, name=name, created_at=now)
        .on_conflict_do_nothing(index_elements=["project", "name"])
    )
    query = select(datasets.c.id).where(datasets.c.project == project, datasets.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return str(conn.execute(query).scalar_one())


def version_with_digest(conn: Connection, dataset_id: str, digest: str) -> tuple[str, bool] | None:
    """(id, deleted?) of the dataset's version holding exactly this content, if any ever did."""
    found = conn.execute(
        select(dataset_versions.c.id, dataset_versions.c.deleted_at).where(
            dataset_versions.c.dataset_id == dataset_id, dataset_versions.c.digest == digest
        )
    ).first()
    return None if found is None else (str(found[0]), found[1] is not None)


def insert_files(conn: Connection, files: Sequence[dict[str, Any]]) -> None:
    for start in range(0, len(files), _INSERT_CHUNK):
        conn.execute(dataset_files.insert(), list(files[start : start + _INSERT_CHUNK]))


def mark_deleted(conn: Connection, version_id: str, deleted_at: int) -> None:
    """Delete a live version: its files' rows go, its row stays (its number is never reused)."""
    conn.execute(dataset_files.delete().where(dataset_files.c.version_id == version_id))
    conn.execute(
        dataset_versions.update()
        .where(dataset_versions.c.id == version_id, _LIVE)
        .values(deleted_at=deleted_at)
    )


def restore_version(
    conn: Connection, version_id: str, values: dict[str, Any], files: Sequence[dict[str, Any]]
) -> None:
    """Bring a deleted version back with its files, described by `values` (the registration's)."""
    insert_files(conn, files)
    conn.execute(
        dataset_versions.update().where(dataset_versions.c.id == version_id).values(**values, deleted_at=None)
    )


def next_version(conn: Connection, dataset_id: str) -> int:
    latest = conn.execute(
        select(func.max(dataset_versions.c.version)).where(dataset_versions.c.dataset_id == dataset_id)
    ).scalar()
    return 1 if latest is None else int(latest) + 1


def insert_version(conn: Connection, row: dict[str, Any], files: Sequence[dict[str, Any]]) -> None:
    conn.execute(dataset_versions.insert().values(**row))
    insert_files(conn, files)


def _versions_query() -> Any:
    return select(datasets.c.name, datasets.c.project, dataset_versions.c.dataset_id, *_VERSION_COLUMNS).join(
        datasets, datasets.c.id == dataset_versions.c.dataset_id
    )


def version_row(conn: Connection, project: str, name: str, version: int | None) -> RowMapping | None:
    query = _versions_query().where(datasets.c.project == project, datasets.c.name == name, _LIVE)
    if version is None:
        query = query.order_by(dataset_versions.c.version.desc()).limit(1)
    else:
        query = query.where(dataset_versions.c.version == version)
    return conn.execute(query).mappings().first()


def live_version_with_digest(conn: Connection, project: str, name: str, digest: str) -> RowMapping | None:
    """The dataset's version (not deleted) holding exactly this content, if there is one."""
    query = _versions_query().where(
        datasets.c.project == project, datasets.c.name == name, dataset_versions.c.digest == digest, _LIVE
    )
    return conn.execute(query).mappings().first()


def version_rows_by_ref(conn: Connection, project: str, refs: Sequence[tuple[str, int]]) -> list[RowMapping]:
    """The rows of these (name, version) pairs of `project`, deleted ones too (their lineage
    nodes stay), in no order; a pair that names no version has none."""
    if not refs:
        return []
    names = sorted({name for name, _ in refs})
    numbers = sorted({number for _, number in refs})
    query = _versions_query().where(
        datasets.c.project == project, datasets.c.name.in_(names), dataset_versions.c.version.in_(numbers)
    )
    wanted = set(refs)
    return [row for row in conn.execute(query).mappings() if (row["name"], int(row["version"])) in wanted]


def version_row_by_id(conn: Connection, version_id: str) -> RowMapping:
    return conn.execute(_versions_query().where(dataset_versions.c.id == version_id)).mappings().one()


def version_rows(conn: Connection, project: str, name: str) -> list[RowMapping]:
    query = _versions_query().where(datasets.c.project == project, datasets.c.name == name, _LIVE)
    return list(conn.execute(query.order_by(dataset_versions.c.version)).mappings())


def dataset_rows(conn: Connection, project: str) -> list[tuple[int, RowMapping]]:
    """(created_at of the dataset, its latest version's row) for every dataset of the project."""
    latest = (
        select(dataset_versions.c.dataset_id, func.max(dataset_versions.c.version).label("latest"))
        .where(_LIVE)
        .group_by(dataset_versions.c.dataset_id)
        .subquery()
    )
    query = (
        _versions_query()
        .add_columns(datasets.c.created_at.label("dataset_created_at"))
        .join(
            latest,
            (latest.c.dataset_id == dataset_versions.c.dataset_id)
            & (latest.c.latest == dataset_versions.c.version),
        )
        .where(datasets.c.project == project)
        .order_by(datasets.c.name)
    )
    return [(int(row["dataset_created_at"]), row) for row in conn.execute(query).mappings()]


def file_rows(conn: Connection, version_id: str) -> list[RowMapping]:
    query = select(dataset_files.c.path, dataset_files.c.digest, dataset_files.c.size).where(
        dataset_files.c.version_id == version_id
    )
    return list(conn.execute(query.order_by(dataset_files.c.path)).mappings())


def insert_validation(conn: Connection, row: dict[str, Any], outcome: str) -> None:
    """A validation of a version, which becomes the version's latest outcome."""
    conn.execute(dataset_validations.insert().values(**row))
    conn.execute(
        dataset_versions.update().where(dataset_versions.c.id == row["version_id"]).values(validation=outcome)
    )


def validation_rows(conn: Connection, version_id: str) -> list[RowMapping]:
    """A version's validations, the newest first."""
    query = select(dataset_validations).where(dataset_validations.c.version_id == version_id)
    order = (dataset_validations.c.created_at.desc(), dataset_validations.c.id.desc())
    return list(conn.execute(query.order_by(*order)).mappings())


def referenced_digests(conn: Connection) -> set[str]:
    """Every blob a version refers to: the stored files of versions kept by copy, and profiles."""
    stored = (
        select(dataset_files.c.digest)
        .join(dataset_versions, dataset_versions.c.id == dataset_files.c.version_id)
        .where(dataset_versions.c.by_reference.is_(False))
        .distinct()
    )
    found = set(conn.execute(stored).scalars())
    profiles = select(dataset_versions.c.profile_digest).where(
        dataset_versions.c.profile_digest.is_not(None), _LIVE
    )
    found |= {str(d) for d in conn.execute(profiles.distinct()).scalars()}
    return found
