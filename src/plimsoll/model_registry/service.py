"""The model registry: the rules, once. Models, their numbered versions (each pointing to the run
that produced it and the artifact it logged), and aliases per environment with an append-only
history.

create_model / update_model / get_model / list_models
register_version(name, run_id, artifact_path)   a new version from a run's artifact (or the same one);
                                                its manifest read, its skops types and pickle imports found
get_version(ref) / list_versions(name)          by NAME/VERSION, NAME@ALIAS or NAME (the latest)
approve_types(name, version, types)             a project admin approves the skops types it needs, once
trust(name, version)                            a project admin trusts its pickle
set_alias / remove_alias / rollback             move an alias, recorded with who, when and why
protect_alias                                   a protected alias moves only through a promotion
promote_in(change, decision)                    the move of a promotion: only with a signed, passing
                                                release decision for that alias and version
alias_history(name, alias, at=)                 the moves (of every alias, with no alias)
history(name, alias, at=)                       one alias's moves and the version it held at T
"""

from __future__ import annotations

import json
import tempfile
from typing import IO, Any

import orjson

from plimsoll.core.audit import AuditEntry
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.errors import (
    Conflict,
    GateFailed,
    InvalidParameter,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
)
from plimsoll.core.ids import is_id, new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_artifact_path, check_int, check_name, check_text
from plimsoll.model_registry import store
from plimsoll.model_registry.entities import (
    DECISION_DOMAIN,
    MAX_DESCRIPTION_LENGTH,
    MAX_EXAMPLE_BYTES,
    Alias,
    AliasAccess,
    AliasHistory,
    AliasMove,
    Model,
    ModelCard,
    ModelVersion,
    Signature,
    SignedDecision,
    artifact_digest,
    check_alias,
    check_alias_people,
    check_card,
    check_example,
    check_model_name,
    check_owners,
    check_reason,
    check_type_names,
    check_version,
    parse_model_ref,
)
from plimsoll.model_registry.manifest import MANIFEST_FILE, MAX_MANIFEST_BYTES, Manifest, read_manifest
from plimsoll.model_registry.scanning import refuse_dangerous, scan_pickle, skops_types

MAX_FLAVOR_LENGTH = 64
DEFAULT_FLAVOR = "python_function"  # the label of a version registered from files without a manifest


class RegistryService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.tracking = parts.services["tracking"]
        # The key ring that signs the audit log also signs release decisions (docs/gates.md).
        self.audit = parts.services.get("audit")
        self.lineage = parts.services.get("lineage")
        if self.lineage is not None:
            self.lineage.add_resolver("model", self._resolve_alias)

    # -- models -----------------------------------------------------------------------------------

    def create_model(
        self,
        name: str,
        *,
        description: str = "",
        owners: dict[str, str] | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Model:
        check_model_name("name", name)
        check_name("project", project)
        check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        owners = check_owners("owners", owners or {})
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            if not self._insert_model(change, project, name, description, owners):
                raise Conflict(f"model {name!r} already exists in project {project!r}")
        return self.get_model(name, project=project)

    def update_model(
        self,
        name: str,
        *,
        description: str | None = None,
        owners: dict[str, str] | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Model:
        """Change a model's description or owners (given ones only; owners replace the old set)."""
        values: dict[str, Any] = {}
        if description is not None:
            values["description"] = check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        if owners is not None:
            values["owners"] = json.dumps(check_owners("owners", owners), sort_keys=True)
        with self._change(actor) as change:
            row = self._model_row(change.conn, project, name, lock=True)
            before = _model(row)
            if values:
                store.update_model(change.conn, row["id"], values)
                after = _model(store.model_row(change.conn, project, name))
                change.audit(
                    AuditEntry(
                        actor,
                        "model.update",
                        "model",
                        row["id"],
                        project,
                        _audited_model(before),
                        _audited_model(after),
                    )
                )
        return self.get_model(name, project=project)

    def get_model(self, name: str, *, project: str = DEFAULT_PROJECT) -> Model:
        check_model_name("name", name)
        with self.db.read() as conn:
            row = self._model_row(conn, project, name)
            latest = store.latest_versions(conn, [row["id"]]).get(row["id"])
            aliases = {
                a["alias"]: int(a["version"]) for a in store.alias_rows(conn, row["id"]) if a["version"]
            }
        return _model(row, latest, aliases)

    def list_models(self, *, project: str = DEFAULT_PROJECT) -> list[Model]:
        check_name("project", project)
        with self.db.read() as conn:
            rows = store.model_rows(conn, project)
            ids = [r["id"] for r in rows]
            latest = store.latest_versions(conn, ids)
            held = store.held_aliases(conn, ids)
        return [_model(row, latest.get(row["id"]), held.get(row["id"])) for row in rows]

    # -- versions ---------------------------------------------------------------------------------

    def register_version(
        self,
        name: str,
        *,
        run_id: str,
        artifact_path: str,
        flavor: str | None = None,
        description: str = "",
        card: ModelCard | dict[str, Any] | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> ModelVersion:
        """A new version of model `name` (created if new) from the artifact the run logged under
        `artifact_path` (a file or a folder). Its digest is recorded now, over every file's content
        digest, so that a load can verify it. The same run's same artifact registered again gives
        back the version that holds it. The version becomes `model:NAME/VERSION` in the lineage
        graph, produced by the run, and so downstream of the data the run used.

        A folder logged by `run.log_model` has a `manifest.json`: the version takes its flavor,
        signature, input example (checked against the signature) and card from it (`card` given
        here replaces the manifest's). The registry then reads the files themselves: the types a
        skops file holds beyond skops' defaults are listed on the version (loading waits for a
        project admin's approval of that list), and a pickle's imports are scanned (a dangerous
        one refuses the registration; the others wait for an admin to trust the version)."""
        check_model_name("name", name)
        check_name("project", project)
        check_artifact_path("artifact_path", artifact_path.rstrip("/"))
        if flavor is not None:
            flavor = check_name("flavor", flavor, max_length=MAX_FLAVOR_LENGTH)
        check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        given_card = None if card is None else check_card("card", card)
        if self.tracking.run_projects([run_id]).get(run_id) != project:
            raise NotFound(f"run {run_id!r} not found in project {project!r}")
        prefix = artifact_path.rstrip("/")
        files = [
            a
            for a in self.tracking.list_artifacts(run_id, prefix)
            if a.path == prefix or a.path.startswith(prefix + "/")
        ]
        if not files:
            raise NotFound(f"run {run_id!r} has no artifact {prefix!r}: log the model's files first")
        by_name = {a.path[len(prefix) :].lstrip("/") or a.path.rsplit("/", 1)[-1]: a for a in files}
        digest = artifact_digest([(relative, a.digest) for relative, a in by_name.items()])
        with self.db.read() as conn:  # registered already: answered before any file is read
            model = store.model_row(conn, project, name)
            existing = None if model is None else store.version_with_digest(conn, model["id"], run_id, digest)
            if existing is not None and existing["artifact_path"] == prefix:
                return _version(project, name, existing)
        loading = self._loading(by_name, run_id, prefix, flavor)
        datasets = self._run_datasets(project, run_id)
        flavor = loading.manifest.flavor if loading.manifest is not None else flavor or DEFAULT_FLAVOR
        card_value = given_card or (None if loading.manifest is None else loading.manifest.card)
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            self._insert_model(change, project, name, "", {})
            model = self._model_row(change.conn, project, name, lock=True)
            existing = store.version_with_digest(change.conn, model["id"], run_id, digest)
            if existing is not None and existing["artifact_path"] == prefix:
                return _version(project, name, existing)
            row = {
                "id": new_id(),
                "model_id": model["id"],
                "version": store.next_version(change.conn, model["id"]),
                "run_id": run_id,
                "artifact_path": prefix,
                "artifact_digest": digest,
                "files": len(files),
                "bytes": sum(a.size for a in files),
                "flavor": flavor,
                "description": description,
                "created_by": actor,
                "created_at": now_ms(),
                "signature": _json(loading.signature.to_dict() if loading.signature else None),
                "input_example": _json(loading.example),
                "card": _json(card_value.to_dict() if card_value else None),
                "datasets": json.dumps(list(datasets)),
                "needed_types": json.dumps(list(loading.types)),
                "pickle_imports": _json(None if loading.imports is None else list(loading.imports)),
                "types_approved_by": None,
                "types_approved_at": None,
                "trusted_by": None,
                "trusted_at": None,
            }
            store.insert_version(change.conn, row)
            version = _version(project, name, row)
            change.audit(
                AuditEntry(
                    actor,
                    "model.register_version",
                    "model_version",
                    row["id"],
                    project,
                    None,
                    _audited_version(version),
                )
            )
            change.emit(
                "model.version_registered",
                f"model:{model['id']}",
                {
                    "model": name,
                    "version": version.version,
                    "project": project,
                    "run_id": run_id,
                    "artifact_digest": digest,
                    "flavor": flavor,
                },
                project=project,
            )
            if self.lineage is not None:
                node = f"model:{version.ref}"
                self.lineage.record(
                    change,
                    node,
                    project=project,
                    label=version.ref,
                    attributes={"digest": digest, "flavor": flavor},
                )
                self.lineage.link(change, f"run:{run_id}", node, "produced", project=project)
        return version

    def get_version(self, ref: str, *, project: str = DEFAULT_PROJECT) -> ModelVersion:
        """`NAME/VERSION`, `NAME@ALIAS` (the version it holds now) or `NAME` (the latest)."""
        name, number, alias = parse_model_ref("ref", ref)
        with self.db.read() as conn:
            model = self._model_row(conn, project, name)
            if alias is not None:
                held = store.alias_row(conn, model["id"], alias)
                if held is None or held["version"] is None:
                    raise NotFound(f"model {name!r} has no alias {alias!r} in project {project!r}")
                number = int(held["version"])
            row = store.version_row(conn, model["id"], number)
            if row is None:
                which = "has no versions" if number is None else f"has no version {number}"
                raise NotFound(f"model {name!r} {which} in project {project!r}")
            aliases = tuple(
                a["alias"] for a in store.alias_rows(conn, model["id"]) if a["version"] == row["version"]
            )
        return _version(project, name, row, aliases)

    def list_versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> list[ModelVersion]:
        check_model_name("name", name)
        with self.db.read() as conn:
            model = self._model_row(conn, project, name)
            held: dict[int, list[str]] = {}
            for alias in store.alias_rows(conn, model["id"]):
                if alias["version"] is not None:
                    held.setdefault(int(alias["version"]), []).append(alias["alias"])
            rows = store.version_rows(conn, model["id"])
        return [_version(project, name, row, tuple(held.get(int(row["version"]), ()))) for row in rows]

    # -- what loading takes -----------------------------------------------------------------------

    def approve_types(
        self,
        name: str,
        version: int,
        types: list[str] | tuple[str, ...],
        *,
        reason: str = "",
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> ModelVersion:
        """A project admin approves the types the version's skops file holds beyond skops'
        defaults: `types` must be exactly the list the version names (so that what is approved was
        read), and is then passed to skops at every load of this version, never a blanket trust.
        Once per version: approving the same list again changes nothing."""
        check_version("version", version)
        approved = check_type_names("types", types)
        reason = check_reason("reason", reason)
        with self._change(actor) as change:
            model = self._model_row(change.conn, project, name, lock=True)
            row = self._version_row(change.conn, model, version, project)
            current = _version(project, name, row)
            if not current.needed_types:
                raise Conflict(
                    f"{current.ref} needs no types approved: skops trusts every type its files hold by default"
                )
            if set(approved) != set(current.needed_types):
                missing = sorted(set(current.needed_types) - set(approved))
                extra = sorted(set(approved) - set(current.needed_types))
                raise InvalidParameter(
                    "types",
                    f"must be exactly the types {current.ref} needs, as listed when it was registered "
                    f"({', '.join(current.needed_types)})"
                    + (f"; missing: {', '.join(missing)}" if missing else "")
                    + (f"; not needed: {', '.join(extra)}" if extra else ""),
                )
            if current.types_approved_by is not None:
                return current
            store.update_version(
                change.conn, row["id"], {"types_approved_by": actor, "types_approved_at": now_ms()}
            )
            after = _version(project, name, store.version_row(change.conn, model["id"], version))
            change.audit(
                AuditEntry(
                    actor,
                    "model.approve_types",
                    "model_version",
                    row["id"],
                    project,
                    {"types_approved_by": None},
                    {"model": name, "version": version, "types": list(approved), "reason": reason},
                )
            )
            change.emit(
                "model.types_approved",
                f"model:{model['id']}",
                {
                    "model": name,
                    "version": version,
                    "project": project,
                    "types": list(approved),
                    "reason": reason,
                },
                project=project,
            )
        return after

    def trust(
        self, name: str, version: int, *, reason: str = "", project: str = DEFAULT_PROJECT, actor: str
    ) -> ModelVersion:
        """A project admin trusts the version's pickle: loading it runs whatever code it names, so
        it is loaded only from a version marked so. Its imports, scanned at registration, are on
        the version for the admin to read first. Trusting again changes nothing."""
        check_version("version", version)
        reason = check_reason("reason", reason)
        with self._change(actor) as change:
            model = self._model_row(change.conn, project, name, lock=True)
            row = self._version_row(change.conn, model, version, project)
            current = _version(project, name, row)
            if current.pickle_imports is None:
                raise Conflict(f"{current.ref} loads no pickle: there is nothing to trust")
            if current.trusted_by is not None:
                return current
            store.update_version(change.conn, row["id"], {"trusted_by": actor, "trusted_at": now_ms()})
            after = _version(project, name, store.version_row(change.conn, model["id"], version))
            change.audit(
                AuditEntry(
                    actor,
                    "model.trust_version",
                    "model_version",
                    row["id"],
                    project,
                    {"trusted_by": None},
                    {
                        "model": name,
                        "version": version,
                        "pickle_imports": list(current.pickle_imports),
                        "reason": reason,
                    },
                )
            )
            change.emit(
                "model.version_trusted",
                f"model:{model['id']}",
                {
                    "model": name,
                    "version": version,
                    "project": project,
                    "pickle_imports": list(current.pickle_imports),
                    "reason": reason,
                },
                project=project,
            )
        return after

    # -- aliases ----------------------------------------------------------------------------------

    def aliases(self, name: str, *, project: str = DEFAULT_PROJECT) -> list[Alias]:
        check_model_name("name", name)
        with self.db.read() as conn:
            model = self._model_row(conn, project, name)
            rows = store.alias_rows(conn, model["id"])
        return [
            Alias(r["alias"], int(r["version"]), bool(r["protected"]), r["moved_by"], int(r["moved_at"]))
            for r in rows
            if r["version"] is not None
        ]

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        expected: int | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> AliasMove:
        """Point `alias` at `version`. With `expected`, only if the alias holds that version now
        (None: held by none), so that of two moves made from the same reading one wins and the
        other gets a Conflict. A protected alias is refused here: it moves through a promotion."""
        check_alias("alias", alias)
        check_version("version", version)
        if expected is not None:
            check_version("expected", expected)
        reason = check_reason("reason", reason)
        with self._change(actor) as change:
            model = self._model_row(change.conn, project, name, lock=True)
            if store.version_row(change.conn, model["id"], version) is None:
                raise NotFound(f"model {name!r} has no version {version} in project {project!r}")
            current = store.alias_row(change.conn, model["id"], alias)
            _require_on(current, alias, "request", actor, name)
            if current is not None and current["protected"]:
                raise Conflict(
                    f"alias {alias!r} of model {name!r} is protected: it moves only through a promotion "
                    "whose gates and approvals passed",
                    details={"alias": alias, "protected": True},
                )
            return self._move(change, model, alias, version, "set", reason, project, expected=expected)

    def remove_alias(
        self, name: str, alias: str, *, reason: str = "", project: str = DEFAULT_PROJECT, actor: str
    ) -> AliasMove:
        check_alias("alias", alias)
        reason = check_reason("reason", reason)
        with self._change(actor) as change:
            model = self._model_row(change.conn, project, name, lock=True)
            current = store.alias_row(change.conn, model["id"], alias)
            _require_on(current, alias, "request", actor, name)
            if current is None or current["version"] is None:
                raise NotFound(f"model {name!r} has no alias {alias!r} in project {project!r}")
            if current["protected"]:
                raise Conflict(f"alias {alias!r} of model {name!r} is protected: it cannot be removed")
            return self._move(change, model, alias, None, "removed", reason, project)

    def rollback(
        self,
        name: str,
        alias: str,
        *,
        reason: str = "",
        expected: int | None = None,
        decision: str | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> AliasMove:
        """Point `alias` back at the version it held before its current one: one call, allowed for
        a protected alias too (the previous holder had passed when it was moved there). With
        `expected`, only if the alias holds that version now (as in `set_alias`): a rollback read
        as "from 3 to 2" is refused with a Conflict once someone moved the alias to 4. `decision`
        names the release decision the move carries out (recorded on its audit entry and event)."""
        with self._change(actor) as change:
            return self.rollback_in(
                change, name, alias, reason=reason, expected=expected, decision=decision, project=project
            )

    def rollback_in(
        self,
        change: Change,
        name: str,
        alias: str,
        *,
        reason: str = "",
        expected: int | None = None,
        decision: str | None = None,
        project: str = DEFAULT_PROJECT,
        check_access: bool = True,
    ) -> AliasMove:
        """`rollback` inside the caller's change (a deployment's rollback moves the alias back in
        the transaction that returns its traffic). `check_access=False` is for the platform's own
        actors carrying out a recorded decision (an automatic rollback): the alias's access lists
        name people."""
        check_alias("alias", alias)
        if expected is not None:
            check_version("expected", expected)
        if decision is not None and (not isinstance(decision, str) or not is_id(decision)):
            raise InvalidParameter("decision", f"must be a decision's id: 32 hex digits, got {decision!r}")
        reason = check_reason("reason", reason)
        model = self._model_row(change.conn, project, name, lock=True)
        current = store.alias_row(change.conn, model["id"], alias)
        if check_access:
            _require_on(current, alias, "rollback", change.actor, name)
        if current is None or current["version"] is None:
            raise NotFound(f"model {name!r} has no alias {alias!r} in project {project!r}")
        previous = _previous_holder(
            store.move_rows(change.conn, model["id"], alias, None), int(current["version"])
        )
        if previous is None:
            raise Conflict(
                f"alias {alias!r} of model {name!r} has held no other version: there is nothing to roll back to"
            )
        return self._move(
            change, model, alias, previous, "rollback", reason, project, expected=expected, decision=decision
        )

    def protect_alias(
        self, name: str, alias: str, protected: bool = True, *, project: str = DEFAULT_PROJECT, actor: str
    ) -> None:
        check_alias("alias", alias)
        if not isinstance(protected, bool):
            raise InvalidParameter("protected", f"must be true or false, got {protected!r}")
        with self._change(actor) as change:
            model = self._model_row(change.conn, project, name, lock=True)
            current = store.alias_row(change.conn, model["id"], alias)
            values = {
                "version": None if current is None else current["version"],
                "protected": protected,
                "moved_by": actor if current is None else current["moved_by"],
                "moved_at": now_ms() if current is None else current["moved_at"],
            }
            store.put_alias(change.conn, model["id"], alias, values)
            before = None if current is None else {"protected": bool(current["protected"])}
            change.audit(
                AuditEntry(
                    actor,
                    "model.protect_alias",
                    "model_alias",
                    f"{model['id']}:{alias}",
                    project,
                    before,
                    {"model": name, "alias": alias, "protected": protected},
                )
            )

    def set_alias_access(
        self,
        name: str,
        alias: str,
        *,
        request: Any = None,
        approve: Any = None,
        rollback: Any = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> AliasAccess:
        """Who may act on `alias` (a project admin's call): each list replaces the one before; an
        empty one leaves the action to the project's roles (`AliasAccess`)."""
        check_alias("alias", alias)
        access = AliasAccess(
            alias,
            check_alias_people("request", request),
            check_alias_people("approve", approve),
            check_alias_people("rollback", rollback),
        )
        with self._change(actor) as change:
            model = self._model_row(change.conn, project, name, lock=True)
            current = store.alias_row(change.conn, model["id"], alias)
            values = {
                "version": None if current is None else current["version"],
                "protected": False if current is None else bool(current["protected"]),
                "moved_by": actor if current is None else current["moved_by"],
                "moved_at": now_ms() if current is None else current["moved_at"],
                "access": access.stored_text(),
            }
            store.put_alias(change.conn, model["id"], alias, values)
            before = None if current is None else AliasAccess.stored(alias, current["access"]).to_dict()
            change.audit(
                AuditEntry(
                    actor,
                    "model.alias_access",
                    "model_alias",
                    f"{model['id']}:{alias}",
                    project,
                    before,
                    {"model": name, **access.to_dict()},
                )
            )
        return access

    def alias_access(self, name: str, alias: str, *, project: str = DEFAULT_PROJECT) -> AliasAccess:
        check_alias("alias", alias)
        with self.db.read() as conn:
            model = self._model_row(conn, project, name)
            current = store.alias_row(conn, model["id"], alias)
        return AliasAccess.stored(alias, None if current is None else current["access"])

    def require_alias_access(
        self, name: str, alias: str, action: str, actor: str, *, project: str = DEFAULT_PROJECT
    ) -> None:
        """PermissionDenied unless `actor` may `action` (request, approve, rollback) `alias`: the
        per-alias lists, checked by the gates before a promotion is requested or approved."""
        _require(self.alias_access(name, alias, project=project), action, actor, name)

    def promote_in(self, change: Change, decision: SignedDecision, *, reason: str = "") -> AliasMove:
        """Move an alias as a release decision says, inside the caller's change: the one way a
        protected alias moves forward (`set_alias` refuses it). The decision must verify under the
        server's key (GateFailed otherwise: changed, forged or unsigned), be a promotion's whose
        verdict is `passed` (GateFailed), and the alias must still hold the version it held when
        the gates ran, the baseline (Conflict: it moved meanwhile, so the comparison no longer
        holds; of two promotions of one alias, the second to complete gets this)."""
        record = self._verified(decision)
        project, name, alias = record["project"], record["model"], record["alias"]
        version, baseline = record["version"], record["baseline"]
        reason = check_reason("reason", reason)
        model = self._model_row(change.conn, project, name, lock=True)
        if store.version_row(change.conn, model["id"], version) is None:
            raise NotFound(f"model {name!r} has no version {version} in project {project!r}")
        current = store.alias_row(change.conn, model["id"], alias)
        held = None if current is None or current["version"] is None else int(current["version"])
        if held != baseline:
            raise Conflict(
                f"alias {alias!r} of model {name!r} holds version {held}, not {baseline} as when the "
                f"gates of decision {decision.id} ran: it was moved meanwhile; request the promotion again",
                details={"alias": alias, "version": held, "decision": decision.id},
            )
        return self._move(change, model, alias, version, "promote", reason, project, decision=decision.id)

    def _verified(self, decision: SignedDecision) -> dict[str, Any]:
        refused = f"decision {decision.id!r} does not allow this move"
        keyring = None if self.audit is None else self.audit.keyring
        verified = None
        if keyring is not None and decision.key_id and decision.signature:
            message = decision.body.encode()
            verified = keyring.check(DECISION_DOMAIN, decision.key_id, decision.signature, message)
            if verified is None:  # signed with a key another process added since: read the file again
                verified = keyring.reloaded().check(
                    DECISION_DOMAIN, decision.key_id, decision.signature, message
                )
        if not verified:
            raise GateFailed(
                f"{refused}: its signature does not verify (it was changed after it was signed, or "
                "not signed by this server)",
                details={"decision": decision.id},
            )
        record = orjson.loads(decision.body)
        if record.get("id") != decision.id or record.get("purpose") != "promotion":
            raise GateFailed(
                f"{refused}: it is not a promotion's decision", details={"decision": decision.id}
            )
        if record.get("verdict") != "passed":
            raise GateFailed(
                f"{refused}: its verdict is {record.get('verdict')!r}; a protected alias moves only "
                "with a passing decision",
                details={"decision": decision.id, "verdict": record.get("verdict")},
            )
        return dict(record)

    def alias_history(
        self, name: str, alias: str | None = None, *, at: int | None = None, project: str = DEFAULT_PROJECT
    ) -> list[AliasMove]:
        """The moves of `alias` (of every alias, with None), newest first; with `at` (epoch ms),
        those made at or before that time only."""
        if alias is not None:
            check_alias("alias", alias)
        if at is not None:
            check_int("at", at, minimum=0)
        with self.db.read() as conn:
            model = self._model_row(conn, project, name)
            rows = store.move_rows(conn, model["id"], alias, at)
        return [_move(name, row) for row in rows]

    def history(
        self, name: str, alias: str, *, at: int | None = None, project: str = DEFAULT_PROJECT
    ) -> AliasHistory:
        """The moves of `alias` made by `at` (epoch ms; now when None), newest first, and the
        version it held then: which version held production at T is `.version`."""
        moves = tuple(self.alias_history(name, alias, at=at, project=project))
        return AliasHistory(moves[0].version if moves else None, moves)

    # -- inside -----------------------------------------------------------------------------------

    def _move(
        self,
        change: Change,
        model: Any,
        alias: str,
        version: int | None,
        action: str,
        reason: str,
        project: str,
        *,
        expected: int | None = None,
        decision: str | None = None,
    ) -> AliasMove:
        current = store.alias_row(change.conn, model["id"], alias)
        previous = None if current is None or current["version"] is None else int(current["version"])
        if expected is not None and previous != expected:
            raise Conflict(
                f"alias {alias!r} of model {model['name']!r} holds version {previous}, not {expected}: "
                "it was moved meanwhile; read it again and retry",
                details={"alias": alias, "version": previous},
            )
        now = now_ms()
        protected = False if current is None else bool(current["protected"])
        store.put_alias(
            change.conn,
            model["id"],
            alias,
            {"version": version, "protected": protected, "moved_by": change.actor, "moved_at": now},
        )
        row = {
            "id": new_id(),
            "model_id": model["id"],
            "alias": alias,
            "action": action,
            "version": version,
            "previous": previous,
            "actor": change.actor,
            "reason": reason,
            "at": now,
        }
        store.append_move(change.conn, row)
        move = _move(model["name"], row)
        after: dict[str, Any] = {"model": model["name"], "alias": alias, "version": version, "reason": reason}
        payload: dict[str, Any] = {
            "model": model["name"],
            "alias": alias,
            "version": version,
            "previous": previous,
            "action": action,
            "reason": reason,
            "project": project,
        }
        if decision is not None:
            after["decision"] = payload["decision"] = decision
        change.audit(
            AuditEntry(
                change.actor,
                f"model.alias_{action}",
                "model_alias",
                f"{model['id']}:{alias}",
                project,
                {"version": previous},
                after,
            )
        )
        change.emit("alias.moved", f"model:{model['id']}", payload, project=project)
        return move

    def _loading(self, by_name: dict[str, Any], run_id: str, prefix: str, flavor: str | None) -> _Loading:
        """What the artifact's manifest says and what its files hold: read here, from the stored
        files (the manifest is believed for how to load, never for what is safe)."""
        entry = by_name.get(MANIFEST_FILE)
        if entry is None:
            return _Loading()
        if entry.size > MAX_MANIFEST_BYTES:
            raise PayloadTooLarge(MANIFEST_FILE, f"is {entry.size} bytes; the limit is {MAX_MANIFEST_BYTES}")
        manifest = read_manifest(self._read(entry))
        if flavor is not None and flavor != manifest.flavor:
            raise InvalidParameter(
                "flavor",
                f"is {flavor!r}, but the artifact's {MANIFEST_FILE} says {manifest.flavor!r}: leave it out",
            )
        for path in [*manifest.files, *([manifest.input_example] if manifest.input_example else [])]:
            if path not in by_name:
                raise InvalidParameter(
                    f"{MANIFEST_FILE}.files",
                    f"names {path!r}, which run {run_id!r} did not log under {prefix!r}",
                )
        example = None
        if manifest.input_example is not None:
            stored = by_name[manifest.input_example]
            if stored.size > MAX_EXAMPLE_BYTES:
                raise PayloadTooLarge(
                    "input_example", f"is {stored.size} bytes; the limit is {MAX_EXAMPLE_BYTES}"
                )
            try:
                value = json.loads(self._read(stored))
            except ValueError as exc:
                raise InvalidParameter(
                    "input_example", f"{manifest.input_example} is not JSON ({exc})"
                ) from None
            example = check_example("input_example", value, manifest.signature)
        types: set[str] = set()
        for path in manifest.files_in("skops"):
            with self._spooled(by_name[path]) as stream:
                types.update(skops_types(stream, path))
        imports: set[str] | None = None
        for path in manifest.files_in("pickle"):
            with self._spooled(by_name[path]) as stream:
                scan = scan_pickle(stream, path)
            refuse_dangerous(scan, path)
            imports = (imports or set()) | set(scan.imports)
        return _Loading(
            manifest,
            manifest.signature,
            example,
            tuple(sorted(types)),
            None if imports is None else tuple(sorted(imports)),
        )

    def _read(self, artifact: Any) -> bytes:
        return b"".join(self.tracking.iter_artifact(artifact))

    def _spooled(self, artifact: Any) -> IO[bytes]:
        """A stored file in a temporary file (in memory while small), verified, at its start."""
        spool = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115 - the caller closes it
        for chunk in self.tracking.iter_artifact(artifact):
            spool.write(chunk)
        spool.seek(0)
        return spool

    def _run_datasets(self, project: str, run_id: str) -> tuple[str, ...]:
        """The dataset versions the run used, as the lineage graph has them now ("NAME@VERSION")."""
        if self.lineage is None:
            return ()
        try:
            graph = self.lineage.upstream(project, f"run:{run_id}", depth=1)
        except NotFound:
            return ()
        used = {e.source for e in graph.edges if e.target == f"run:{run_id}" and e.role == "used"}
        return tuple(sorted(n.key for n in graph.nodes if n.kind == "dataset" and n.id in used))

    def _version_row(self, conn: Any, model: Any, version: int, project: str) -> Any:
        row = store.version_row(conn, model["id"], version)
        if row is None:
            raise NotFound(f"model {model['name']!r} has no version {version} in project {project!r}")
        return row

    def _resolve_alias(self, project: str, ref: Any) -> str:
        name, _, alias = ref.key.partition("@")
        return f"model:{self.get_version(f'{name}@{alias}', project=project).ref}"

    def _insert_model(
        self, change: Change, project: str, name: str, description: str, owners: dict[str, str]
    ) -> bool:
        row: dict[str, Any] = {
            "id": new_id(),
            "project": project,
            "name": name,
            "description": description,
            "owners": json.dumps(owners, sort_keys=True),
            "created_by": change.actor,
            "created_at": now_ms(),
        }
        if not store.insert_model_if_new(change.conn, row):
            return False
        change.audit(
            AuditEntry(
                change.actor,
                "model.create",
                "model",
                row["id"],
                project,
                None,
                {"name": name, "description": description, "owners": owners},
            )
        )
        return True

    @staticmethod
    def _model_row(conn: Any, project: str, name: str, *, lock: bool = False) -> Any:
        row = store.model_row(conn, project, name, lock=lock)
        if row is None:
            raise NotFound(f"model {name!r} not found in project {project!r}")
        return row

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)


class _Loading:
    """What registration learnt from an artifact's manifest and files."""

    def __init__(
        self,
        manifest: Manifest | None = None,
        signature: Signature | None = None,
        example: dict[str, Any] | None = None,
        types: tuple[str, ...] = (),
        imports: tuple[str, ...] | None = None,
    ) -> None:
        self.manifest = manifest
        self.signature = signature
        self.example = example
        self.types = types
        self.imports = imports


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _loaded(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _previous_holder(moves: list[Any], current: int) -> int | None:
    """The version the alias held just before its current holder: the newest move made it so, and
    recorded what it replaced."""
    if not moves or moves[0]["version"] is None or int(moves[0]["version"]) != current:
        return None
    return None if moves[0]["previous"] is None else int(moves[0]["previous"])


def _model(row: Any, latest: int | None = None, aliases: dict[str, int] | None = None) -> Model:
    return Model(
        project=row["project"],
        name=row["name"],
        description=row["description"],
        owners=json.loads(row["owners"]),
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        latest_version=latest,
        aliases=aliases or {},
    )


def _version(project: str, name: str, row: Any, aliases: tuple[str, ...] = ()) -> ModelVersion:
    return ModelVersion(
        project=project,
        name=name,
        version=int(row["version"]),
        run_id=row["run_id"],
        artifact_path=row["artifact_path"],
        artifact_digest=row["artifact_digest"],
        files=int(row["files"]),
        bytes=int(row["bytes"]),
        flavor=row["flavor"],
        description=row["description"],
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        aliases=aliases,
        signature=None if row["signature"] is None else Signature.from_dict(json.loads(row["signature"])),
        input_example=_loaded(row["input_example"]),
        card=None if row["card"] is None else ModelCard.from_dict(json.loads(row["card"])),
        datasets=tuple(_loaded(row["datasets"]) or ()),
        needed_types=tuple(_loaded(row["needed_types"]) or ()),
        types_approved_by=row["types_approved_by"],
        types_approved_at=None if row["types_approved_at"] is None else int(row["types_approved_at"]),
        pickle_imports=None if row["pickle_imports"] is None else tuple(json.loads(row["pickle_imports"])),
        trusted_by=row["trusted_by"],
        trusted_at=None if row["trusted_at"] is None else int(row["trusted_at"]),
    )


def _require_on(current: Any, alias: str, action: str, actor: str, model: str) -> None:
    """The alias's access, read from its row (none yet: the roles decide), allows `action`.
    A promotion's move is not checked here: the gates checked its request and its approvals."""
    if current is not None:
        _require(AliasAccess.stored(alias, current["access"]), action, actor, model)


def _require(access: AliasAccess, action: str, actor: str, model: str) -> None:
    if not access.allows(action, actor):
        people: tuple[str, ...] = getattr(access, action)
        raise PermissionDenied(
            f"{actor!r} may not {action} {model}@{access.alias}: its access names only "
            f"{', '.join(people)} (`plimsoll models access`, docs/registry.md)",
            details={"alias": access.alias, "action": action},
        )


def _move(model: str, row: Any) -> AliasMove:
    return AliasMove(
        model=model,
        alias=row["alias"],
        action=row["action"],
        version=None if row["version"] is None else int(row["version"]),
        previous=None if row["previous"] is None else int(row["previous"]),
        actor=row["actor"],
        reason=row["reason"],
        at=int(row["at"]),
    )


def _audited_model(model: Model) -> dict[str, Any]:
    return {"name": model.name, "description": model.description, "owners": model.owners}


def _audited_version(version: ModelVersion) -> dict[str, Any]:
    return {
        "model": version.name,
        "version": version.version,
        "run_id": version.run_id,
        "artifact_path": version.artifact_path,
        "artifact_digest": version.artifact_digest,
        "flavor": version.flavor,
        "needed_types": list(version.needed_types),
        "pickle_imports": None if version.pickle_imports is None else list(version.pickle_imports),
    }
