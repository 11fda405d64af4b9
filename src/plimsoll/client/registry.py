"""`client.registry` (and `pl.registry`): models, their versions and aliases, embedded or remote.

version = pl.registry.register("churn", run_id=run.id, artifact_path="model")
pl.registry.set_alias("churn", "staging", version.version, reason="passed offline checks")
pl.registry.get("churn@staging")            # or "churn/3", or "churn" for the latest
model = pl.registry.load("churn@staging")   # its files verified against the version's digest
model.predict(frame)                        # checked against the signature first
pl.registry.history("churn", "production", at=datetime(2026, 12, 1, tzinfo=UTC)).version
pl.registry.rollback("churn", "production", reason="latency regression")
pl.registry.approve_types("churn/3", [...]) # project admins: what a skops file needs
pl.registry.trust("churn/4")                # project admins: a pickle
"""

from __future__ import annotations

import builtins
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from plimsoll.core.errors import BlobCorrupted, InvalidParameter, NotFound, PermissionDenied
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.model_registry.entities import (
    AliasAccess,
    AliasHistory,
    AliasMove,
    Model,
    ModelCard,
    ModelVersion,
    artifact_digest,
    check_card,
    parse_model_ref,
)

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport
    from plimsoll.model_registry.flavors import LoadedModel
    from plimsoll.model_registry.manifest import Manifest


class Registry:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<plimsoll registry of {self._transport.destination}>"

    def register(
        self,
        name: str,
        *,
        run_id: str,
        artifact_path: str,
        flavor: str | None = None,
        description: str = "",
        card: ModelCard | dict[str, Any] | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> ModelVersion:
        """A new version of model `name` (made if new) from the artifact run `run_id` logged under
        `artifact_path`; the same run's same artifact gives back the version that holds it. A
        folder written by `run.log_model` brings its flavor, signature, input example and card
        (`card` here replaces it); without one, `flavor` is a label ("python_function")."""
        card_value = None if card is None else check_card("card", card).to_dict()
        return self._transport.registry_register(
            project, name, run_id, artifact_path, flavor, description, card_value
        )

    def load(self, ref: str, *, project: str = DEFAULT_PROJECT) -> LoadedModel:
        """The model of `NAME@ALIAS`, `NAME/VERSION` or `NAME` (the latest), ready to `predict`
        (and `predict_proba`, where its flavor has it), every input checked against its
        signature. Its files are downloaded and verified, each against its content digest and all
        together against the digest recorded when the version was registered: a file changed
        since is refused (BlobCorrupted, naming the version). A version whose skops file needs
        types beyond skops' defaults loads once a project admin approved them (`approve_types`),
        a pickle once an admin trusted it (`trust`): PermissionDenied until then."""
        from plimsoll.model_registry.flavors import Trust, load_model

        version = self.get(ref, project=project)
        _check_loadable(version)
        with tempfile.TemporaryDirectory(prefix="plimsoll-model-") as folder:
            manifest = self._download(version, Path(folder))
            trust = Trust(
                types=version.needed_types if version.types_approved_by else (),
                pickle=version.trusted_by is not None,
            )
            return load_model(Path(folder), manifest, version, trust)

    def approve_types(
        self, ref: str, types: builtins.list[str], *, reason: str = "", project: str = DEFAULT_PROJECT
    ) -> ModelVersion:
        """Approve the types a version's skops file holds beyond skops' defaults (project admins):
        exactly the list in its `needed_types`, read first. Once per version."""
        version = self.get(ref, project=project)
        return self._transport.registry_approve_types(
            project, version.name, version.version, list(types), reason
        )

    def trust(self, ref: str, *, reason: str = "", project: str = DEFAULT_PROJECT) -> ModelVersion:
        """Trust a version's pickle (project admins), after reading its `pickle_imports`: loading
        it runs the code it names. Once per version."""
        version = self.get(ref, project=project)
        return self._transport.registry_trust(project, version.name, version.version, reason)

    def _download(self, version: ModelVersion, folder: Path) -> Manifest:
        """The version's files into `folder`, checked against its artifact digest; its manifest."""
        from plimsoll.model_registry.manifest import MANIFEST_FILE, read_manifest

        if version.run_id is None:
            raise NotFound(f"{version.ref} has no run to load its files from")
        prefix = version.artifact_path
        files = [
            a
            for a in self._transport.list_artifacts(version.run_id, prefix)
            if a.path == prefix or a.path.startswith(prefix + "/")
        ]
        found: builtins.list[tuple[str, str]] = []
        for artifact in files:
            relative = artifact.path[len(prefix) :].lstrip("/") or artifact.path.rsplit("/", 1)[-1]
            target = folder / relative
            try:
                self._transport.download_artifact(version.run_id, artifact.path, target)
            except BlobCorrupted as exc:
                raise BlobCorrupted(
                    f"{version.ref} is not loaded: its file {relative!r} is corrupted ({exc.message})",
                    details={**exc.details, "version": version.ref},
                ) from exc
            found.append((relative, _file_digest(target)))
        actual = artifact_digest(found)
        if actual != version.artifact_digest:
            raise BlobCorrupted(
                f"{version.ref} is not loaded: its files under {prefix!r} of run {version.run_id} no "
                f"longer match the digest recorded when it was registered ({version.artifact_digest}; "
                f"they hash to {actual}). A file was changed, added or removed since: register the "
                "model again",
                details={"version": version.ref, "digest": version.artifact_digest, "actual": actual},
            )
        if not (folder / MANIFEST_FILE).is_file():
            raise NotFound(
                f"{version.ref} has no {MANIFEST_FILE}: it was registered from files, not logged with "
                "run.log_model, so no flavor knows how to load it (client.download_artifact fetches its files)"
            )
        return read_manifest((folder / MANIFEST_FILE).read_bytes())

    def get(self, ref: str, *, project: str = DEFAULT_PROJECT) -> ModelVersion:
        """`NAME/VERSION`, `NAME@ALIAS` (the version it holds now) or `NAME` (the latest)."""
        name, version, alias = parse_model_ref("ref", ref)
        return self._transport.registry_version(project, name, version, alias)

    def versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> builtins.list[ModelVersion]:
        """Every version of model `name`, newest first, with the aliases each holds."""
        return self._transport.registry_versions(project, name)

    def list(self, *, project: str = DEFAULT_PROJECT) -> builtins.list[Model]:
        return self._transport.registry_models(project)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        expected: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> AliasMove:
        """Point `alias` at `version` (refused for a protected alias, which moves through a
        promotion). With `expected`, only if the alias holds that version now: a Conflict
        otherwise, so that of two moves made from one reading only one happens."""
        return self._transport.registry_set_alias(project, name, alias, version, reason, expected)

    def rollback(
        self,
        name: str,
        alias: str,
        *,
        reason: str = "",
        expected: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> AliasMove:
        """Point `alias` back at the version it held before its current one. With `expected`,
        only if the alias holds that version now (a Conflict otherwise)."""
        return self._transport.registry_rollback(project, name, alias, reason, expected)

    def protect(
        self, name: str, alias: str, protected: bool = True, *, project: str = DEFAULT_PROJECT
    ) -> None:
        """Protect `alias` (a project admin's call): from now on it moves forward only through a
        promotion whose release gates passed (docs/gates.md). `protected=False` lifts it."""
        self._transport.registry_protect(project, name, alias, protected)

    def update(
        self,
        name: str,
        *,
        description: str | None = None,
        owners: dict[str, str] | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Model:
        """Change a model's description or its owners (role -> user: `monitoring`,
        `incident_response`, ... — who alerts and incidents about it are routed to); given ones
        only, and owners replace the old set."""
        return self._transport.registry_update(project, name, description, owners)

    def set_access(
        self,
        name: str,
        alias: str,
        *,
        request: Sequence[str] = (),
        approve: Sequence[str] = (),
        rollback: Sequence[str] = (),
        project: str = DEFAULT_PROJECT,
    ) -> AliasAccess:
        """Who may act on `alias` (a project admin's call): `request` (move it by hand, remove it,
        ask for a promotion to it), `approve` its promotions, `rollback`. Each list replaces the
        one before; an empty one leaves the action to the project's roles."""
        lists = {"request": list(request), "approve": list(approve), "rollback": list(rollback)}
        return self._transport.registry_set_access(project, name, alias, lists)

    def history(
        self, name: str, alias: str, *, at: datetime | int | None = None, project: str = DEFAULT_PROJECT
    ) -> AliasHistory:
        """The alias's moves, newest first; with `at` (a timezone-aware datetime, or epoch ms),
        those made by then, and `.version`: the version it held at that time."""
        return self._transport.registry_history(project, name, alias, _epoch_ms(at))


def _epoch_ms(at: datetime | int | None) -> int | None:
    if at is None or (isinstance(at, int) and not isinstance(at, bool)):
        return at
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InvalidParameter("at", f"must be a timezone-aware datetime or epoch milliseconds, got {at!r}")
    return int(at.timestamp() * 1000)


@dataclass(frozen=True)
class LoggedModel:
    """What `run.log_model` logged: where (`artifact_path` of run `run_id`), its manifest (flavor,
    signature, ...), and the version it was registered as (None unless `register_as` was given)."""

    run_id: str
    artifact_path: str
    manifest: Manifest
    version: ModelVersion | None = None

    @property
    def flavor(self) -> str:
        return self.manifest.flavor


def _check_loadable(version: ModelVersion) -> None:
    """Refused before anything is downloaded: what loading waits for, and who can give it."""
    project = version.project
    if version.awaiting == "approve_types":
        types = " ".join(version.needed_types)
        raise PermissionDenied(
            f"{version.ref} is not loaded: its skops file holds types skops does not trust by default "
            f"({', '.join(version.needed_types)}), and no one has approved them for this version. "
            f"A project admin of {project!r} reads the list and approves it once: "
            f"`plimsoll models approve-types {version.ref} {types} --project {project}`, or "
            f"pl.registry.approve_types({version.ref!r}, [...], project={project!r})",
            details={
                "version": version.ref,
                "awaiting": "approve_types",
                "types": list(version.needed_types),
            },
        )
    if version.awaiting == "trust":
        imports = ", ".join(version.pickle_imports or ()) or "nothing"
        raise PermissionDenied(
            f"{version.ref} is not loaded: it is a pickle, which runs the code it names when loaded "
            f"(it imports {imports}), and no one has trusted it. A project admin of {project!r} "
            f"reads those imports and trusts it once: `plimsoll models trust {version.ref} --project "
            f"{project}`, or pl.registry.trust({version.ref!r}, project={project!r})",
            details={"version": version.ref, "awaiting": "trust"},
        )


def _file_digest(path: Path) -> str:
    hasher = blake3()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            hasher.update(chunk)
    return hasher.hexdigest()
