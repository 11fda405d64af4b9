"""Feature definitions and skew checks: the rules, once. The SDK (embedded and through the routes)
and the CLI call these.

register(new, actor=)                 a definition: the version holding it, or a new version
get_version / list_versions / list_features
check_skew(features, training, serving, actor=)
                                      each feature's training-time profile against its
                                      serving-time one, the statistics engine's verdicts, stored
get_skew_check / list_skew_checks
referenced_blobs()                    the profiles skew checks were computed from

The service never runs a transformation: it stores the source text and hashes it, and compares
profiles computed where the data is (the SDK computes them with the caller's own function, after
checking that its source is the registered one) or read from a dataset version.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_id, check_int, check_name, check_text, printable
from plimsoll.feature_registry import store
from plimsoll.feature_registry.entities import (
    MAX_FEATURE_VERSION,
    MAX_FEATURES_PER_CHECK,
    MAX_LABEL_LENGTH,
    MAX_PROFILE_BYTES,
    Feature,
    FeatureSkew,
    FeatureVersion,
    LatestVerdict,
    NewDefinition,
    SkewCheck,
    SkewInput,
    SkewSide,
    changes_between,
    check_definition,
    check_feature_name,
    definition_digest,
    parse_feature_ref,
    source_hash,
)
from plimsoll.feature_registry.skew import compare_features

if TYPE_CHECKING:
    from plimsoll.stats import TableSummary

DEFAULT_CHECKS_LISTED = 50
MAX_CHECKS_LISTED = 1000
SIDES = ("training", "serving")
COLUMNS_NAMED = 20


class FeatureService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.blobs = parts.blobs
        self.events = parts.events
        self.projects = parts.projects
        self.data = parts.services.get("data")
        self.lineage = parts.services.get("lineage")

    # -- definitions ------------------------------------------------------------------------------

    def register(self, new: NewDefinition, *, actor: str) -> FeatureVersion:
        """The version of `new.name` holding this definition (source hash, dtype and inputs): the
        one already registered, or a new version numbered after the latest, whose `changes` say
        what differs from it. A changed transformation is never a silent change of a version."""
        new = check_definition(new)
        hashed = source_hash(new.source)
        digest = definition_digest(hashed, new.dtype, new.inputs)
        now = now_ms()
        with self._change(actor) as change:
            self.projects.require_in(change.conn, new.project)
            feature_id = store.lock_feature(change.conn, new_id(), new.project, new.name, now)
            existing = store.version_id_with_digest(change.conn, feature_id, digest)
            if existing is not None:
                return _version(store.version_row_by_id(change.conn, existing))
            latest = store.version_row(change.conn, new.project, new.name, None)
            before = None if latest is None else _version(latest)
            version_id = new_id()
            store.insert_version(
                change.conn,
                {
                    "id": version_id,
                    "feature_id": feature_id,
                    "version": store.next_version(change.conn, feature_id),
                    "digest": digest,
                    "source_hash": hashed,
                    "dtype": new.dtype,
                    "inputs": json.dumps(list(new.inputs)),
                    "source": new.source,
                    "function": new.function,
                    "description": new.description,
                    "changes": json.dumps(list(changes_between(before, hashed, new.dtype, new.inputs))),
                    "created_by": actor,
                    "created_at": now,
                },
            )
            version = _version(store.version_row_by_id(change.conn, version_id))
            change.audit(
                AuditEntry(
                    actor,
                    "feature.register",
                    "feature_version",
                    version_id,
                    new.project,
                    None,
                    _audited(version),
                )
            )
            change.emit(
                "feature.version_registered",
                f"feature:{feature_id}",
                {
                    "feature": version.name,
                    "version": version.version,
                    "project": version.project,
                    "dtype": version.dtype,
                    "source_hash": version.source_hash,
                    "digest": version.digest,
                    "changes": list(version.changes),
                },
                project=version.project,
            )
            self._record_lineage(change, version)
        return version

    def _record_lineage(self, change: Change, version: FeatureVersion) -> None:
        """The version's node in the lineage graph (`feature:NAME@VERSION`), in the same
        transaction as the version."""
        if self.lineage is None:  # a platform built without the lineage capability
            return
        attributes = {
            "dtype": version.dtype,
            "source_hash": version.source_hash,
            "function": version.function,
        }
        self.lineage.record(
            change, _node_id(version), project=version.project, label=version.ref, attributes=attributes
        )

    def get_version(
        self, name: str, version: int | None = None, *, project: str = DEFAULT_PROJECT
    ) -> FeatureVersion:
        """A version by number, or the latest."""
        check_feature_name("name", name)
        check_name("project", project)
        if version is not None:
            check_int("version", version, minimum=1, maximum=MAX_FEATURE_VERSION)
        with self.db.read() as conn:
            row = store.version_row(conn, project, name, version)
        if row is None:
            raise _no_version(name, version, project)
        return _version(row)

    def list_versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> list[FeatureVersion]:
        check_feature_name("name", name)
        check_name("project", project)
        with self.db.read() as conn:
            rows = store.version_rows(conn, project, name)
        if not rows:
            raise NotFound(f"feature {name!r} not found in project {project!r}")
        return [_version(row) for row in rows]

    def list_features(self, *, project: str = DEFAULT_PROJECT) -> list[Feature]:
        check_name("project", project)
        with self.db.read() as conn:
            found = store.feature_rows(conn, project)
        return [Feature(row["name"], row["project"], created_at, _version(row)) for created_at, row in found]

    # -- skew -------------------------------------------------------------------------------------

    def check_skew(
        self,
        features: Sequence[tuple[str, int | None]],
        training: SkewInput,
        serving: SkewInput,
        *,
        alpha: float = 0.05,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> SkewCheck:
        """Compare each feature's values at training time with those at serving time: `features`
        are (name, version) pairs (None: the latest); each side is a dataset version whose stored
        profile holds a column named after every feature, or a profile computed where the data is.
        The verdicts (the statistics engine's, the training side as the reference, one level set
        across the features) are stored with both profiles and published (`feature.skew_checked`)."""
        check_name("project", project)
        _check_alpha(alpha)
        wanted = _check_features(features)
        for side, given in zip(SIDES, (training, serving), strict=True):
            _check_input(side, given)
        versions: list[FeatureVersion] = []
        ids: dict[str, str] = {}  # feature name -> the version's row id
        with self.db.read() as conn:
            for name, number in wanted:
                found = store.version_row(conn, project, name, number)
                if found is None:
                    self.projects.require_in(conn, project)
                    raise _no_version(name, number, project)
                versions.append(_version(found))
                ids[name] = str(found["id"])
        training_side, training_summary = self._side("training", training, versions, project)
        serving_side, serving_summary = self._side("serving", serving, versions, project)
        results, correction, level = compare_features(
            training_summary, serving_summary, versions, alpha=alpha
        )
        check_id_ = new_id()
        row: dict[str, Any] = {
            "id": check_id_,
            "project": project,
            **{f"training_{k}": v for k, v in _side_columns(training_side).items()},
            **{f"serving_{k}": v for k, v in _side_columns(serving_side).items()},
            "alpha": alpha,
            "correction": correction,
            "alpha_effective": level,
            "created_by": actor,
            "created_at": now_ms(),
        }
        rows: list[dict[str, Any]] = [
            {
                "check_id": check_id_,
                "position": position,
                "version_id": ids[result.feature],
                "verdict": result.verdict,
                "result": json.dumps(result.to_dict(), allow_nan=False),
            }
            for position, result in enumerate(results)
        ]
        check = _check(row, [r["result"] for r in rows])
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            store.insert_skew_check(change.conn, row, rows)
            summary = {
                "features": [f.ref for f in check.features],
                "skewed": check.skewed,
                "training": check.training.label,
                "serving": check.serving.label,
            }
            change.audit(
                AuditEntry(
                    actor, "feature.skew_check", "feature_skew_check", check.id, project, None, summary
                )
            )
            change.emit(
                "feature.skew_checked",
                f"feature_skew_check:{check.id}",
                {"check_id": check.id, "project": project, **summary},
                project=project,
            )
        return check

    def _side(
        self, side: str, given: SkewInput, versions: list[FeatureVersion], project: str
    ) -> tuple[SkewSide, TableSummary]:
        """One side's profile (read from its dataset version, or the one sent, now stored) and
        what the check records of it; every feature must be one of its columns."""
        from plimsoll import stats

        found = None
        if given.dataset is not None:
            if self.data is None:  # a platform built without the data capability
                raise Conflict(f"{side}: this platform is built without datasets; send a profile")
            found = self.data.get_version(*_dataset_ref(side, given.dataset), project=project)
        dataset = None if found is None else str(found.ref)
        digest: str | None = None  # a profile sent is stored once it reads as one
        if given.profile is not None:
            data = given.profile
            label = given.label or (f"dataset {dataset}" if dataset else "a table")
        else:
            assert found is not None  # _check_input: a dataset or a profile
            if found.profile_digest is None:
                raise Conflict(
                    f"{side}: dataset version {found.ref!r} has no profile (it holds no Parquet or CSV "
                    "data); send a profile computed from its data instead",
                    details={"field": f"{side}.dataset"},
                )
            digest = str(found.profile_digest)
            data = self.blobs.get_bytes(digest)
            label = given.label or f"dataset {dataset}"
        try:
            summary = stats.from_bytes(data)
        except stats.PlimsollStatsError as exc:
            raise InvalidParameter(
                f"{side}.profile", f"is not a profile the statistics engine reads: {exc.message}"
            ) from None
        if not isinstance(summary, stats.TableSummary):
            raise InvalidParameter(
                f"{side}.profile", "is a column summary; a side's profile is a table summary"
            )
        if summary.row_count == 0:
            raise InvalidParameter(side, f"{label} holds no rows: there is nothing to compare")
        for version in versions:
            if version.name not in summary.columns:
                names = [printable(c) for c in list(summary.columns)[:COLUMNS_NAMED]]
                raise InvalidParameter(
                    side,
                    f"{label} has no column {printable(version.name)!r} (feature {version.ref}); its "
                    f"profile has the columns {names}",
                    details={"feature": version.ref},
                )
        if digest is None:
            digest = self.blobs.put_bytes(data).digest
        return SkewSide(label, summary.row_count, digest, dataset), summary

    def get_skew_check(self, check_id: str, *, project: str = DEFAULT_PROJECT) -> SkewCheck:
        check_id = check_id_of(check_id)
        check_name("project", project)
        with self.db.read() as conn:
            row = store.skew_check_row(conn, project, check_id)
            if row is None:
                raise NotFound(f"skew check {check_id!r} not found in project {project!r}")
            results = store.skew_result_rows(conn, [check_id])[check_id]
        return _check(row, results)

    def list_skew_checks(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        feature: str | None = None,
        limit: int = DEFAULT_CHECKS_LISTED,
    ) -> list[SkewCheck]:
        """The project's skew checks, newest first; with `feature`, those that checked a version of it."""
        check_name("project", project)
        check_int("limit", limit, minimum=1, maximum=MAX_CHECKS_LISTED)
        with self.db.read() as conn:
            feature_id = None
            if feature is not None:
                check_feature_name("feature", feature)
                feature_id = store.feature_id(conn, project, feature)
                if feature_id is None:
                    raise NotFound(f"feature {feature!r} not found in project {project!r}")
            rows = store.skew_check_rows(conn, project, limit, feature_id)
            results = store.skew_result_rows(conn, [row["id"] for row in rows])
        return [_check(row, results[row["id"]]) for row in rows]

    def latest_verdicts(self, *, project: str = DEFAULT_PROJECT) -> dict[str, LatestVerdict]:
        """Each feature's verdict in the newest check that looked at it, by feature name."""
        check_name("project", project)
        with self.db.read() as conn:
            rows = store.latest_result_rows(conn, project)
        return {
            row["name"]: LatestVerdict(
                row["check_id"], int(row["created_at"]), FeatureSkew.from_dict(json.loads(row["result"]))
            )
            for row in rows
        }

    def referenced_blobs(self) -> set[str]:
        with self.db.read() as conn:
            return store.referenced_digests(conn)

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)


def check_id_of(value: Any) -> str:
    return check_id("check_id", value)


def _check_alpha(alpha: Any) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0.0 < alpha < 1.0:
        raise InvalidParameter("alpha", f"must be a number within (0, 1), got {printable(alpha)!r}")


def _check_features(features: Any) -> list[tuple[str, int | None]]:
    if isinstance(features, str) or not isinstance(features, Sequence):
        raise InvalidParameter("features", f"must be a list of features, got {type(features).__name__}")
    if not features:
        raise InvalidParameter("features", "is empty: name the features to check")
    if len(features) > MAX_FEATURES_PER_CHECK:
        raise InvalidParameter(
            "features", f"has {len(features)} features; the limit is {MAX_FEATURES_PER_CHECK} a check"
        )
    wanted: list[tuple[str, int | None]] = []
    seen: set[str] = set()
    for index, item in enumerate(features):
        where = f"features[{index}]"
        if isinstance(item, str):
            name, number = parse_feature_ref(where, item)
        elif isinstance(item, tuple) and len(item) == 2:
            name, number = check_feature_name(f"{where}.name", item[0]), item[1]
            if number is not None:
                check_int(f"{where}.version", number, minimum=1, maximum=MAX_FEATURE_VERSION)
        else:
            raise InvalidParameter(
                where, f"must be NAME, NAME@VERSION or a (name, version) pair, got {type(item).__name__}"
            )
        if name in seen:
            raise InvalidParameter(
                "features", f"names feature {name!r} twice: a side has one column per feature"
            )
        seen.add(name)
        wanted.append((name, number))
    return wanted


def _check_input(side: str, given: SkewInput) -> None:
    if not isinstance(given, SkewInput):
        raise InvalidParameter(side, f"must be a SkewInput, got {type(given).__name__}")
    if given.dataset is None and given.profile is None:
        raise InvalidParameter(side, "needs a dataset version or a profile to compare")
    if given.dataset is not None:
        _dataset_ref(side, given.dataset)
    if given.profile is not None:
        if not isinstance(given.profile, bytes):
            raise InvalidParameter(f"{side}.profile", f"must be bytes, got {type(given.profile).__name__}")
        if len(given.profile) > MAX_PROFILE_BYTES:
            raise InvalidParameter(
                f"{side}.profile", f"is {len(given.profile)} bytes; the limit is {MAX_PROFILE_BYTES}"
            )
    if given.label is not None:
        check_text(f"{side}.label", given.label, max_length=MAX_LABEL_LENGTH)


def _dataset_ref(side: str, text: Any) -> tuple[str, int | None]:
    from plimsoll.data.entities import parse_ref

    if not isinstance(text, str):
        raise InvalidParameter(f"{side}.dataset", f"must be NAME or NAME@VERSION, got {type(text).__name__}")
    return parse_ref(f"{side}.dataset", text)


def _side_columns(side: SkewSide) -> dict[str, Any]:
    return {"label": side.label, "dataset": side.dataset, "rows": side.rows, "profile": side.profile_digest}


def _no_version(name: str, number: int | None, project: str) -> NotFound:
    which = "has no versions" if number is None else f"has no version {number}"
    return NotFound(f"feature {name!r} {which} in project {project!r}")


def _audited(version: FeatureVersion) -> dict[str, Any]:
    """A version as the audit log keeps it: all but its source text (its hash says it)."""
    return {k: v for k, v in version.to_dict().items() if k != "source"}


def _node_id(version: FeatureVersion) -> str:
    return f"feature:{version.ref}"


def _version(row: Any) -> FeatureVersion:
    return FeatureVersion(
        name=row["name"],
        project=row["project"],
        version=int(row["version"]),
        dtype=row["dtype"],
        inputs=tuple(json.loads(row["inputs"])),
        source_hash=row["source_hash"],
        digest=row["digest"],
        source=row["source"],
        function=row["function"],
        description=row["description"],
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        changes=tuple(json.loads(row["changes"])),
    )


def _check(row: Any, results: Sequence[str]) -> SkewCheck:
    def side(prefix: str) -> SkewSide:
        return SkewSide(
            row[f"{prefix}_label"],
            int(row[f"{prefix}_rows"]),
            row[f"{prefix}_profile"],
            row[f"{prefix}_dataset"],
        )

    return SkewCheck(
        id=row["id"],
        project=row["project"],
        training=side("training"),
        serving=side("serving"),
        features=tuple(FeatureSkew.from_dict(json.loads(result)) for result in results),
        alpha=float(row["alpha"]),
        correction=row["correction"],
        alpha_effective=float(row["alpha_effective"]),
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
    )
