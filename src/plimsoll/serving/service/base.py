"""What every part of the serving service shares: its parts and clock, deployments read back from
rows, and the one way a deployment changes (`_commit`: its row with the revision bumped, a history
line, an audit entry and a `deployment.changed` event, in the caller's transaction)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.validation import check_int, check_name, printable
from plimsoll.serving import store
from plimsoll.serving.entities import Deployment, HistoryEntry, RolloutPolicy
from plimsoll.serving.events import DEPLOYMENT_CHANGED

log = logging.getLogger("plimsoll.serving")

MAX_NAME = 200  # a deployment's and an environment's name
MAX_LIST = 1000
# What a history line's `before` and `after` show of a deployment.
SHOWN = ("stable", "canary", "canary_weight", "shadow", "sticky_key", "state", "step", "follows")


class ServiceBase:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.registry = parts.services.get("model_registry")
        self.gates = parts.services.get("gates")
        self.lineage = parts.services.get("lineage")
        self.monitoring = parts.services.get("monitoring")
        self.clock: Callable[[], int] = now_ms  # ms since the epoch; tests move time by hand

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)

    def _row(self, conn: Connection, project: str, name: str, *, lock: bool = False) -> Any:
        check_name("project", project)
        check_name("name", name, max_length=MAX_NAME)
        row = store.deployment_row(conn, project, name, lock=lock)
        if row is None:
            self.projects.require_in(conn, project)
            raise NotFound(f"deployment {name!r} not found in project {project!r}")
        return row

    def _commit(
        self,
        change: Change,
        row: Any,
        values: dict[str, Any],
        action: str,
        *,
        reason: str = "",
        analysis: dict[str, Any] | None = None,
        decision: str | None = None,
        created: bool = False,
    ) -> Deployment:
        """Write `values` over the deployment `row` (None values included), bump its revision,
        and record the change: a history line, an audit entry, a `deployment.changed` event."""
        now = self.clock()
        before = {} if created else {k: _plain(row[k]) for k in SHOWN}
        merged = {**dict(row), **values}
        merged["revision"] = 1 if created else int(row["revision"]) + 1
        merged["updated_at"] = now
        if created:
            store.insert_deployment(change.conn, merged)
        else:
            changed = {k: merged[k] for k in (*values, "revision", "updated_at")}
            store.update_deployment(change.conn, row["id"], changed)
        after = {k: _plain(merged[k]) for k in SHOWN}
        decision = decision if decision is not None else merged.get("decision")
        store.append_history(
            change.conn,
            {
                "id": new_id(),
                "deployment_id": merged["id"],
                "at": now,
                "actor": change.actor,
                "action": action,
                "before": _dumps(before),
                "after": _dumps(after),
                "reason": reason,
                "analysis": None if analysis is None else _dumps(analysis),
                "decision": decision,
            },
        )
        deployment = _deployment(merged)
        change.audit(
            AuditEntry(
                change.actor,
                f"deployment.{action}",
                "deployment",
                deployment.id,
                deployment.project,
                before or None,
                {"name": deployment.name, **after, "reason": reason, "decision": decision},
            )
        )
        payload = {
            "deployment": deployment.id,
            "project": deployment.project,
            "name": deployment.name,
            "environment": deployment.environment,
            "model": deployment.model,
            "alias": deployment.alias,
            "action": action,
            "state": deployment.state,
            "stable": deployment.stable,
            "canary": deployment.canary,
            "canary_weight": deployment.canary_weight,
            "shadow": deployment.shadow,
            "revision": deployment.revision,
            "decision": decision,
            "reason": reason,
            "analysis": analysis,
        }
        change.emit(DEPLOYMENT_CHANGED, f"deployment:{deployment.id}", payload, project=deployment.project)
        self._link(change, deployment)
        return deployment

    def _link(self, change: Change, deployment: Deployment) -> None:
        """The deployment as a lineage node, fed by each model version it serves."""
        if self.lineage is None:
            return
        node = f"deployment:{deployment.name}"
        try:
            self.lineage.record(
                change,
                node,
                project=deployment.project,
                label=f"{deployment.name} ({deployment.environment})",
                attributes={"model": deployment.model, "alias": deployment.alias},
            )
            for version in deployment.routing.versions():
                model = f"model:{deployment.model}/{version}"
                self.lineage.link(change, model, node, "used", project=deployment.project)
        except (InvalidParameter, Conflict) as refused:  # checked before any write: nothing to undo
            log.warning("deployment %s: not linked in the lineage graph: %s", deployment.name, refused)


# -- records from rows -----------------------------------------------------------------------------


def _deployment(row: Any) -> Deployment:
    return Deployment(
        id=row["id"],
        project=row["project"],
        name=row["name"],
        environment=row["environment"],
        model=row["model"],
        alias=row["alias"],
        follows=bool(row["follows"]),
        stable=_int(row["stable"]),
        canary=_int(row["canary"]),
        canary_weight=float(row["canary_weight"]),
        shadow=_int(row["shadow"]),
        sticky_key=row["sticky_key"],
        policy=RolloutPolicy.from_dict(json.loads(row["policy"])),
        state=row["state"],
        step=int(row["step"]),
        step_started_at=_int(row["step_started_at"]),
        reason=row["reason"],
        decision=row["decision"],
        revision=int(row["revision"]),
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        paused_by=row["paused_by"],
    )


def _history(row: Any) -> HistoryEntry:
    return HistoryEntry(
        id=row["id"],
        deployment_id=row["deployment_id"],
        at=int(row["at"]),
        actor=row["actor"],
        action=row["action"],
        before=json.loads(row["before"]),
        after=json.loads(row["after"]),
        reason=row["reason"],
        analysis=None if row["analysis"] is None else json.loads(row["analysis"]),
        decision=row["decision"],
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _plain(value: Any) -> Any:
    return bool(value) if isinstance(value, bool) else value


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def check_limit(limit: Any, maximum: int = MAX_LIST) -> int:
    return check_int("limit", limit, minimum=1, maximum=maximum)


def check_optional_version(field: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2**53:
        raise InvalidParameter(
            field, f"must be a model version: a whole number from 1, got {printable(value)!r}"
        )
    return value
