"""Experiments: create, find by id or name, list, rename, delete and restore."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import is_id, new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import MAX_DESCRIPTION_LENGTH, check_name, check_storable, check_text
from plimsoll.tracking import store
from plimsoll.tracking.entities import Experiment, LifecycleStage, check_tags, check_view
from plimsoll.tracking.service.base import ServiceBase


class ExperimentOps(ServiceBase):
    def create_experiment(
        self,
        name: str,
        *,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        tags: dict[str, str] | None = None,
        actor: str,
    ) -> Experiment:
        check_name("name", name)
        check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        tag_values = check_tags(tags or {})
        with self._change(actor) as change:
            conn = change.conn
            self.projects.require_in(conn, project)
            if store.experiment_by_name(conn, project, name) is not None:
                raise Conflict(f"experiment {name!r} already exists in project {project!r}")
            now = now_ms()
            row: dict[str, Any] = {
                "id": new_id(),
                "project": project,
                "name": name,
                "description": description,
                "lifecycle_stage": LifecycleStage.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
            store.insert_experiment(conn, row)
            store.set_experiment_tags(conn, row["id"], tag_values)
            experiment = Experiment(**row, tags=tag_values)
            change.audit(
                AuditEntry(
                    actor, "experiment.create", "experiment", row["id"], project, None, experiment.to_dict()
                )
            )
            change.emit(
                "experiment.created",
                f"experiment:{row['id']}",
                {"experiment_id": row["id"], "name": name, "project": project},
                project=project,
            )
        return experiment

    def get_or_create_experiment(
        self, name: str, *, project: str = DEFAULT_PROJECT, actor: str
    ) -> Experiment:
        found = self.find_experiment(name, project=project)
        if found is not None:
            if found.lifecycle_stage == LifecycleStage.DELETED:
                raise Conflict(f"experiment {name!r} is deleted; restore it or choose another name")
            return found
        try:
            return self.create_experiment(name, project=project, actor=actor)
        except Conflict:
            # Another process created it between our look-up and insert.
            found = self.find_experiment(name, project=project)
            if found is None:
                raise
            return found

    def find_experiment(self, name: str, *, project: str = DEFAULT_PROJECT) -> Experiment | None:
        check_storable("name", name)
        check_storable("project", project)
        with self.db.read() as conn:
            row = store.experiment_by_name(conn, project, name)
            return None if row is None else self._experiments(conn, [row])[0]

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.db.read() as conn:
            return self._experiment(conn, experiment_id)

    def resolve_experiment(self, ref: str, *, project: str = DEFAULT_PROJECT) -> Experiment:
        """An experiment by id or, failing that, by name in `project`."""
        if is_id(ref):
            try:
                return self.get_experiment(ref)
            except NotFound:
                pass
        found = self.find_experiment(ref, project=project)
        if found is None:
            raise NotFound(f"experiment {ref!r} not found in project {project!r}")
        return found

    def list_experiments(self, *, project: str = DEFAULT_PROJECT, view: str = "active") -> list[Experiment]:
        stages = check_view(view)
        with self.db.read() as conn:
            return self._experiments(conn, store.experiments_in(conn, project, list(stages)))

    def run_counts(self, experiment_ids: list[str]) -> dict[str, int]:
        """How many runs (not deleted) each experiment holds."""
        with self.db.read() as conn:
            return store.run_counts(conn, experiment_ids)

    def experiment_projects(self, experiment_ids: Iterable[str]) -> dict[str, str]:
        """The project of each of these experiments that exists, by experiment id."""
        with self.db.read() as conn:
            return store.experiment_projects(conn, experiment_ids)

    def rename_experiment(self, experiment_id: str, new_name: str, *, actor: str) -> Experiment:
        check_name("name", new_name)
        return self._update_experiment(experiment_id, {"name": new_name}, "rename", actor)

    def delete_experiment(self, experiment_id: str, *, actor: str) -> Experiment:
        return self._update_experiment(experiment_id, {"lifecycle_stage": "deleted"}, "delete", actor)

    def restore_experiment(self, experiment_id: str, *, actor: str) -> Experiment:
        return self._update_experiment(experiment_id, {"lifecycle_stage": "active"}, "restore", actor)

    def _update_experiment(
        self, experiment_id: str, values: dict[str, Any], verb: str, actor: str
    ) -> Experiment:
        with self._change(actor) as change:
            conn = change.conn
            before = self._experiment(conn, experiment_id)
            renamed = "name" in values and values["name"] != before.name
            if renamed and store.experiment_by_name(conn, before.project, values["name"]) is not None:
                raise Conflict(f"experiment {values['name']!r} already exists in project {before.project!r}")
            store.update_experiment(conn, experiment_id, {**values, "updated_at": now_ms()})
            after = self._experiment(conn, experiment_id)
            change.audit(
                AuditEntry(
                    actor,
                    f"experiment.{verb}",
                    "experiment",
                    experiment_id,
                    before.project,
                    before.to_dict(),
                    after.to_dict(),
                )
            )
            change.emit(
                f"experiment.{verb}d",  # renamed, deleted, restored
                f"experiment:{experiment_id}",
                {"experiment_id": experiment_id, "name": after.name, "project": before.project},
                project=before.project,
            )
        return after

    def _experiment(self, conn: Connection, experiment_id: str) -> Experiment:
        row = store.experiment_by_id(conn, experiment_id)
        if row is None:
            raise NotFound(f"experiment {experiment_id!r} not found")
        return self._experiments(conn, [row])[0]

    @staticmethod
    def _experiments(conn: Connection, rows: list[dict[str, Any]]) -> list[Experiment]:
        tags = store.experiment_tags_of(conn, [row["id"] for row in rows])
        return [Experiment(**row, tags=tags[row["id"]]) for row in rows]
