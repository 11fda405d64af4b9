"""The features capability's tables and every statement that reads or writes them. Each function
takes an open connection; the service owns the transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
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

features = Table(
    "features",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("project", "name"),
)

feature_versions = Table(
    "feature_versions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("feature_id", ID, ForeignKey("features.id"), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("digest", DIGEST, nullable=False),  # the definition's identity: source hash, dtype, inputs
    Column("source_hash", DIGEST, nullable=False),
    Column("dtype", String(16), nullable=False),
    Column("inputs", Text, nullable=False),  # JSON: [column, ...] in the order the function gets them
    Column("source", Text, nullable=False),
    Column("function", Text, nullable=False),
    Column("description", Text, nullable=False),
    Column("changes", Text, nullable=False),  # JSON: what differs from the version before
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    UniqueConstraint("feature_id", "version"),
    UniqueConstraint("feature_id", "digest"),
)

feature_skew_checks = Table(
    "feature_skew_checks",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("training_label", Text, nullable=False),
    Column("training_dataset", Text, nullable=True),  # NAME@VERSION
    Column("training_rows", BigInteger, nullable=False),
    Column("training_profile", DIGEST, nullable=False),
    Column("serving_label", Text, nullable=False),
    Column("serving_dataset", Text, nullable=True),
    Column("serving_rows", BigInteger, nullable=False),
    Column("serving_profile", DIGEST, nullable=False),
    Column("alpha", Float, nullable=False),
    Column("correction", String(16), nullable=False),
    Column("alpha_effective", Float, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_feature_skew_checks_project_created_at", "project", "created_at"),
)

feature_skew_results = Table(
    "feature_skew_results",
    metadata,
    Column("check_id", ID, ForeignKey("feature_skew_checks.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("version_id", ID, ForeignKey("feature_versions.id"), nullable=False, index=True),
    Column("verdict", String(16), nullable=False),  # skewed, consistent or untested
    Column("result", Text, nullable=False),  # JSON: the FeatureSkew
)

TABLES = (features, feature_versions, feature_skew_checks, feature_skew_results)

_VERSION_COLUMNS = [c for c in feature_versions.c if c.name != "feature_id"]


def lock_feature(conn: Connection, feature_id: str, project: str, name: str, now: int) -> str:
    """The feature's id, its row created if new and locked until the transaction ends (on
    PostgreSQL; SQLite's one writer serialises registrations anyway), so that two registrations
    cannot take the same version number."""
    conn.execute(
        upsert(conn, features)
        .values(id=feature_id, project=project, name=name, created_at=now)
        .on_conflict_do_nothing(index_elements=["project", "name"])
    )
    query = select(features.c.id).where(features.c.project == project, features.c.name == name)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return str(conn.execute(query).scalar_one())


def version_id_with_digest(conn: Connection, feature_id: str, digest: str) -> str | None:
    found = conn.execute(
        select(feature_versions.c.id).where(
            feature_versions.c.feature_id == feature_id, feature_versions.c.digest == digest
        )
    ).scalar()
    return None if found is None else str(found)


def next_version(conn: Connection, feature_id: str) -> int:
    latest = conn.execute(
        select(func.max(feature_versions.c.version)).where(feature_versions.c.feature_id == feature_id)
    ).scalar()
    return 1 if latest is None else int(latest) + 1


def insert_version(conn: Connection, row: dict[str, Any]) -> None:
    conn.execute(feature_versions.insert().values(**row))


def _versions_query() -> Any:
    return select(features.c.name, features.c.project, feature_versions.c.feature_id, *_VERSION_COLUMNS).join(
        features, features.c.id == feature_versions.c.feature_id
    )


def version_row(conn: Connection, project: str, name: str, version: int | None) -> RowMapping | None:
    query = _versions_query().where(features.c.project == project, features.c.name == name)
    if version is None:
        query = query.order_by(feature_versions.c.version.desc()).limit(1)
    else:
        query = query.where(feature_versions.c.version == version)
    return conn.execute(query).mappings().first()


def version_row_by_id(conn: Connection, version_id: str) -> RowMapping:
    return conn.execute(_versions_query().where(feature_versions.c.id == version_id)).mappings().one()


def version_rows(conn: Connection, project: str, name: str) -> list[RowMapping]:
    query = _versions_query().where(features.c.project == project, features.c.name == name)
    return list(conn.execute(query.order_by(feature_versions.c.version)).mappings())


def feature_rows(conn: Connection, project: str) -> list[tuple[int, RowMapping]]:
    """(created_at of the feature, its latest version's row) for every feature of the project."""
    latest = (
        select(feature_versions.c.feature_id, func.max(feature_versions.c.version).label("latest"))
        .group_by(feature_versions.c.feature_id)
        .subquery()
    )
    query = (
        _versions_query()
        .add_columns(features.c.created_at.label("feature_created_at"))
        .join(
            latest,
            (latest.c.feature_id == feature_versions.c.feature_id)
            & (latest.c.latest == feature_versions.c.version),
        )
        .where(features.c.project == project)
        .order_by(features.c.name)
    )
    return [(int(row["feature_created_at"]), row) for row in conn.execute(query).mappings()]


def insert_skew_check(conn: Connection, row: dict[str, Any], results: Sequence[dict[str, Any]]) -> None:
    conn.execute(feature_skew_checks.insert().values(**row))
    if results:
        conn.execute(feature_skew_results.insert(), list(results))


def skew_check_row(conn: Connection, project: str, check_id: str) -> RowMapping | None:
    query = select(feature_skew_checks).where(
        feature_skew_checks.c.project == project, feature_skew_checks.c.id == check_id
    )
    return conn.execute(query).mappings().first()


def skew_check_rows(
    conn: Connection, project: str, limit: int, feature_id: str | None = None
) -> list[RowMapping]:
    """The project's skew checks, newest first; with `feature_id`, those that checked a version of it."""
    query = select(feature_skew_checks).where(feature_skew_checks.c.project == project)
    if feature_id is not None:
        checked = (
            select(feature_skew_results.c.check_id)
            .join(feature_versions, feature_versions.c.id == feature_skew_results.c.version_id)
            .where(feature_versions.c.feature_id == feature_id)
        )
        query = query.where(feature_skew_checks.c.id.in_(checked))
    order = (feature_skew_checks.c.created_at.desc(), feature_skew_checks.c.id.desc())
    return list(conn.execute(query.order_by(*order).limit(limit)).mappings())


def skew_result_rows(conn: Connection, check_ids: Sequence[str]) -> dict[str, list[str]]:
    """Each check's per-feature results (their JSON), in the order the check listed the features."""
    found: dict[str, list[str]] = {check_id: [] for check_id in check_ids}
    if not check_ids:
        return found
    query = (
        select(feature_skew_results.c.check_id, feature_skew_results.c.result)
        .where(feature_skew_results.c.check_id.in_(list(check_ids)))
        .order_by(feature_skew_results.c.check_id, feature_skew_results.c.position)
    )
    for check_id, result in conn.execute(query):
        found[str(check_id)].append(str(result))
    return found


def latest_result_rows(conn: Connection, project: str) -> list[RowMapping]:
    """For each feature of the project that a check looked at: the newest such check's id and
    time, the feature's name and its result there."""
    newest = (
        func.row_number()
        .over(
            partition_by=feature_versions.c.feature_id,
            order_by=(feature_skew_checks.c.created_at.desc(), feature_skew_checks.c.id.desc()),
        )
        .label("newest")
    )
    ranked = (
        select(
            features.c.name,
            feature_skew_checks.c.id.label("check_id"),
            feature_skew_checks.c.created_at,
            feature_skew_results.c.result,
            newest,
        )
        .join(feature_skew_checks, feature_skew_checks.c.id == feature_skew_results.c.check_id)
        .join(feature_versions, feature_versions.c.id == feature_skew_results.c.version_id)
        .join(features, features.c.id == feature_versions.c.feature_id)
        .where(feature_skew_checks.c.project == project)
        .subquery()
    )
    query = select(ranked.c.name, ranked.c.check_id, ranked.c.created_at, ranked.c.result).where(
        ranked.c.newest == 1
    )
    return list(conn.execute(query.order_by(ranked.c.name)).mappings())


def feature_id(conn: Connection, project: str, name: str) -> str | None:
    query = select(features.c.id).where(features.c.project == project, features.c.name == name)
    found = conn.execute(query).scalar()
    return None if found is None else str(found)


def referenced_digests(conn: Connection) -> set[str]:
    """Every profile a skew check was computed from (a dataset's among them: the check keeps it
    after the dataset version is deleted)."""
    found: set[str] = set()
    for column in (feature_skew_checks.c.training_profile, feature_skew_checks.c.serving_profile):
        found |= {str(d) for d in conn.execute(select(column).distinct()).scalars()}
    return found
