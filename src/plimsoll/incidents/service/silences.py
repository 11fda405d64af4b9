"""Silences and inhibition rules (what keeps a firing alert from being announced), and the sweep
job that announces the alerts they held once they no longer do."""

from __future__ import annotations

import builtins
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.jobs import JobContext
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int
from plimsoll.incidents import store
from plimsoll.incidents.entities import (
    MAX_COMMENT,
    MAX_LIST,
    MAX_SILENCE_S,
    SILENCE_STATES,
    Silence,
    check_choice,
    check_said,
    optional_text,
)
from plimsoll.incidents.matchers import DEFAULT_INHIBITION, Inhibition, check_label_names, check_matchers
from plimsoll.incidents.service.base import (
    PLATFORM,
    ServiceBase,
    _inhibition,
    _project,
    _silence,
    check_limit,
    check_record_id,
    dumps,
)

MAX_INHIBITIONS = 100  # a scope's own rules


class SilenceOps(ServiceBase):
    # -- silences ----------------------------------------------------------------------------------

    def create_silence(
        self,
        matchers: Any,
        *,
        duration_s: int,
        starts_in_s: int = 0,
        comment: str,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        actor: str,
    ) -> Silence:
        """Hold back the announcements of the alerts `matchers` match (in `project`, or the
        platform's with `platform`) from `starts_in_s` seconds from now for `duration_s` seconds.
        The alerts still change state and are shown, marked silenced."""
        found = check_matchers("matchers", matchers)
        check_int("duration_s", duration_s, minimum=1, maximum=MAX_SILENCE_S)
        check_int("starts_in_s", starts_in_s, minimum=0, maximum=MAX_SILENCE_S)
        comment = check_said("comment", comment, max_length=MAX_COMMENT)
        now = self.clock()
        starts_at = now + starts_in_s * 1000
        with self._change(actor) as change:
            scope = self._scope(change.conn, project, platform)
            silence = Silence(
                id=new_id(),
                project=_project(scope),
                matchers=found,
                starts_at=starts_at,
                ends_at=starts_at + duration_s * 1000,
                comment=comment,
                created_by=actor,
                created_at=now,
            )
            values = silence.to_dict() | {"project": scope, "matchers": dumps([m.to_dict() for m in found])}
            store.insert_silence(change.conn, values)
            change.audit(
                AuditEntry(
                    actor, "silence.create", "silence", silence.id, silence.project, None, silence.to_dict()
                )
            )
        return silence

    def list_silences(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        state: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Silence]:
        """A scope's silences, the newest first; `state` pending, active or expired (None: all)."""
        if state is not None:
            check_choice("state", state, SILENCE_STATES)
        check_limit(limit, MAX_LIST)
        now = self.clock()
        with self.db.read() as conn:
            scope = self._scope(conn, project, platform)
            ending_after = now if state in ("pending", "active") else None
            rows = store.silence_rows(conn, scope, ending_after=ending_after, limit=MAX_LIST)
        found = [_silence(row) for row in rows]
        return [s for s in found if state is None or s.state(now) == state][:limit]

    def get_silence(self, silence_id: str) -> Silence:
        check_record_id("silence_id", silence_id, "silence")
        with self.db.read() as conn:
            row = store.silence_row(conn, silence_id)
        if row is None:
            raise NotFound(f"silence {silence_id!r} not found")
        return _silence(row)

    def silence_project(self, silence_id: str) -> str | None:
        return self.get_silence(silence_id).project

    def expire_silence(self, silence_id: str, *, actor: str) -> Silence:
        """End a silence now; the alerts it held that nothing else mutes are announced."""
        check_record_id("silence_id", silence_id, "silence")
        now = self.clock()
        scope = self.silence_project(silence_id)
        with self._change(actor) as change:
            self._lock(change, scope)
            row = store.silence_row(change.conn, silence_id, for_update=True)
            if row is None:
                raise NotFound(f"silence {silence_id!r} not found")
            before = _silence(row)
            if before.state(now) == "expired":
                raise Conflict(f"silence {silence_id} has ended already")
            values = {"ends_at": now, "expired_by": actor, "expired_at": now}
            if before.starts_at > now:
                values["starts_at"] = now
            store.update_silence(change.conn, silence_id, values)
            after = _silence({**row, **values})
            change.audit(
                AuditEntry(
                    actor,
                    "silence.expire",
                    "silence",
                    silence_id,
                    before.project,
                    before.to_dict(),
                    after.to_dict(),
                )
            )
            self._release_held(change, before.project)
        return after

    # -- inhibition rules --------------------------------------------------------------------------

    def create_inhibition(
        self,
        source: Any,
        target: Any,
        *,
        equal: Any = (),
        comment: str = "",
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        actor: str,
    ) -> Inhibition:
        """A rule: while an alert matching `source` fires, the alerts matching `target` with the
        same values of the `equal` labels are not announced."""
        sources = check_matchers("source", source, require_selective=False)
        targets = check_matchers("target", target, require_selective=False)
        names = check_label_names("equal", list(equal))
        comment = optional_text("comment", comment, max_length=MAX_COMMENT)
        now = self.clock()
        with self._change(actor) as change:
            scope = self._scope(change.conn, project, platform)
            if len(store.inhibition_rows(change.conn, scope)) >= MAX_INHIBITIONS:
                raise Conflict(f"this scope has {MAX_INHIBITIONS} inhibition rules already; delete one first")
            rule = Inhibition(new_id(), _project(scope), sources, targets, names, comment, actor, now)
            values = {
                "id": rule.id,
                "project": scope,
                "source": dumps([m.to_dict() for m in sources]),
                "target": dumps([m.to_dict() for m in targets]),
                "equal": dumps(list(names)),
                "comment": comment,
                "created_by": actor,
                "created_at": now,
            }
            store.insert_inhibition(change.conn, values)
            change.audit(
                AuditEntry(
                    actor, "inhibition.create", "inhibition", rule.id, rule.project, None, rule.to_dict()
                )
            )
        return rule

    def list_inhibitions(
        self, *, project: str = DEFAULT_PROJECT, platform: bool = False
    ) -> builtins.list[Inhibition]:
        """The rule every platform ships (`default`), then the scope's own, oldest first."""
        with self.db.read() as conn:
            scope = self._scope(conn, project, platform)
            return self._inhibitions(conn, scope)

    def get_inhibition(self, inhibition_id: str) -> Inhibition:
        if inhibition_id == DEFAULT_INHIBITION.id:
            return DEFAULT_INHIBITION
        check_record_id("inhibition_id", inhibition_id, "inhibition rule")
        with self.db.read() as conn:
            row = store.inhibition_row(conn, inhibition_id)
        if row is None:
            raise NotFound(f"inhibition rule {inhibition_id!r} not found")
        return _inhibition(row)

    def inhibition_project(self, inhibition_id: str) -> str | None:
        return self.get_inhibition(inhibition_id).project

    def delete_inhibition(self, inhibition_id: str, *, actor: str) -> Inhibition:
        if inhibition_id == DEFAULT_INHIBITION.id:
            raise Conflict("the default inhibition rule ships with the platform and cannot be deleted")
        check_record_id("inhibition_id", inhibition_id, "inhibition rule")
        scope = self.inhibition_project(inhibition_id)
        with self._change(actor) as change:
            self._lock(change, scope)
            row = store.inhibition_row(change.conn, inhibition_id)
            if row is None:
                raise NotFound(f"inhibition rule {inhibition_id!r} not found")
            rule = _inhibition(row)
            store.delete_inhibition(change.conn, inhibition_id)
            change.audit(
                AuditEntry(
                    actor,
                    "inhibition.delete",
                    "inhibition",
                    inhibition_id,
                    rule.project,
                    rule.to_dict(),
                    None,
                )
            )
            self._release_held(change, rule.project)
        return rule

    # -- the sweep ---------------------------------------------------------------------------------

    def sweep(self) -> int:
        """Announce the held alerts that nothing mutes any more (a silence that ended by itself);
        how many. The `incidents.sweep` job runs it every few minutes."""
        with self.db.read() as conn:
            scopes = store.held_projects(conn)
        released = 0
        for scope in scopes:
            with self._change("system") as change:
                self._lock(change, _project(scope))
                released += self._release_held(change, _project(scope))
        return released


def run_sweep(service: SilenceOps, payload: Any, context: JobContext) -> dict[str, int]:
    """The `incidents.sweep` job."""
    return {"announced": service.sweep()}


__all__ = ["PLATFORM", "SilenceOps", "run_sweep"]
