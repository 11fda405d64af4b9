"""Waivers: one failed gate of an alias's policy let through for a version, for a time, with a
reason, by an approver who is not the version's author."""

from __future__ import annotations

from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name, check_text, printable
from plimsoll.gates import store
from plimsoll.gates.entities import MAX_GATE_NAME_LENGTH, Waiver, check_comment
from plimsoll.gates.policy import parse_policy
from plimsoll.gates.service.policies import PolicyOps
from plimsoll.model_registry.entities import check_alias, check_model_name, check_version

HOUR_MS = 3_600_000
MAX_WAIVER_HOURS = 90 * 24


class WaiverOps(PolicyOps):
    def waive(
        self,
        name: str,
        version: int,
        alias: str,
        gate: str,
        *,
        reason: str,
        hours: int,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Waiver:
        """Let gate `gate` of `alias`'s policy through for `version` for the next `hours` (at most
        90 days): a failed gate then counts as `waived` in the gate runs before it expires. Needs a
        reason, and an approver (the actor) who is not the version's author."""
        check_model_name("name", name)
        check_version("version", version)
        check_alias("alias", alias)
        reason = check_comment("reason", reason, required=True)
        gate = check_text("gate", gate, max_length=MAX_GATE_NAME_LENGTH)
        if not gate:
            raise InvalidParameter("gate", "must name a gate of the alias's policy")
        check_int("hours", hours, minimum=1, maximum=MAX_WAIVER_HOURS)
        now = self.clock()
        target = self.registry.get_version(f"{name}/{version}", project=project)
        policy = parse_policy(self.get_policy(name, alias, project=project).text)
        if policy.gate(gate) is None:
            raise NotFound(
                f"the policy of {name}@{alias} has no gate {printable(gate)!r}; its gates are: "
                + ", ".join(g.name for g in policy.gates)
            )
        self._require_approver(project, actor, policy, target, requester=None, what="waive a gate of")
        row: dict[str, Any] = {
            "id": new_id(),
            "project": project,
            "model": name,
            "version": version,
            "alias": alias,
            "gate": gate,
            "reason": reason,
            "approver": actor,
            "created_at": now,
            "expires_at": now + hours * HOUR_MS,
        }
        with self._change(actor) as change:
            store.insert_waiver(change.conn, row)
            change.audit(
                AuditEntry(
                    actor,
                    "gates.waive",
                    "gate_waiver",
                    row["id"],
                    project,
                    None,
                    {k: row[k] for k in ("model", "version", "alias", "gate", "reason", "expires_at")},
                )
            )
        return Waiver.from_dict(row)

    def waivers(
        self,
        name: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> list[Waiver]:
        check_name("project", project)
        check_model_name("name", name)
        if version is not None:
            check_version("version", version)
        if alias is not None:
            check_alias("alias", alias)
        with self.db.read() as conn:
            rows = store.waiver_rows(conn, project, name, version, alias)
        return [Waiver.from_dict(dict(row)) for row in rows]
