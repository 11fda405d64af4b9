"""Release policies: the YAML policy guarding promotions of a model to an alias, set and read."""

from __future__ import annotations

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name
from plimsoll.gates import store
from plimsoll.gates.entities import StoredPolicy
from plimsoll.gates.policy import Policy, parse_policy
from plimsoll.gates.service.base import ServiceBase
from plimsoll.model_registry.entities import check_alias, check_model_name


class PolicyOps(ServiceBase):
    def set_policy(
        self, name: str, alias: str, text: str, *, project: str = DEFAULT_PROJECT, actor: str
    ) -> StoredPolicy:
        """The policy guarding promotions of model `name` to `alias`; it must parse, name this
        alias, and (if it names a model) this model."""
        check_model_name("name", name)
        check_alias("alias", alias)
        policy = self._parse_for(text, name, alias)
        self.registry.get_model(name, project=project)  # NotFound for a model that does not exist
        row = {
            "project": project,
            "model": name,
            "alias": alias,
            "text": text,
            "digest": policy.digest,
            "set_by": actor,
            "set_at": self.clock(),
        }
        with self._change(actor) as change:
            before = store.policy_row(change.conn, project, name, alias)
            store.put_policy(change.conn, row)
            change.audit(
                AuditEntry(
                    actor,
                    "gates.policy_set",
                    "gate_policy",
                    f"{project}:{name}@{alias}",
                    project,
                    None if before is None else {"digest": before["digest"]},
                    {"model": name, "alias": alias, "digest": policy.digest},
                )
            )
        return StoredPolicy.from_dict(row)

    def get_policy(self, name: str, alias: str, *, project: str = DEFAULT_PROJECT) -> StoredPolicy:
        check_name("project", project)
        check_model_name("name", name)
        check_alias("alias", alias)
        with self.db.read() as conn:
            row = store.policy_row(conn, project, name, alias)
        if row is None:
            raise NotFound(
                f"no release policy guards {name}@{alias} in project {project!r}: "
                f"set one with `plimsoll gates policy set {name} {alias} gates.yaml`"
            )
        return StoredPolicy.from_dict(dict(row))

    @staticmethod
    def _parse_for(text: str, name: str, alias: str, field: str = "policy") -> Policy:
        policy = parse_policy(text, field)
        if policy.alias != alias:
            raise InvalidParameter(field, f"guards alias {policy.alias!r}, not {alias!r}")
        if policy.model is not None and policy.model != name:
            raise InvalidParameter(field, f"is for model {policy.model!r}, not {name!r}")
        return policy
