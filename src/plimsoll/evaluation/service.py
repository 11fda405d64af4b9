"""Evaluations: the rules, once. The SDK (embedded and through the routes) calls these.

record(new, actor=)                   store an evaluation computed where the data is; link it in
                                      the lineage graph between the model version and the dataset
                                      version it names; audit it and publish `evaluation.recorded`
get(id) / list(model=, dataset=)      by id; a project's, newest first, of a model (NAME or
                                      NAME/VERSION) or a dataset version
gate_evidence(project, name, version) the newest evaluation of a version, as the release gates'
                                      evidence (gates reads it through add_evidence_source)
compare(champion_id, challenger_id)   every number both hold, the challenger's change and the side
                                      it favours; refused unless both saw the same data

The server never computes an evaluation: the model and the data stay where they are, and the
SDK sends the result (`plimsoll.evaluation.compute`).
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_id, check_int, check_name
from plimsoll.evaluation import store
from plimsoll.evaluation.entities import (
    DEFAULT_EVALUATIONS_LISTED,
    MAX_EVALUATIONS_LISTED,
    Comparison,
    Evaluation,
    NewEvaluation,
    check_new_evaluation,
    compare_measurements,
)


class EvaluationService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.registry = parts.services.get("model_registry")
        self.data = parts.services.get("data")
        self.lineage = parts.services.get("lineage")

    def record(self, new: NewEvaluation, *, actor: str) -> Evaluation:
        """Store `new`. Its model (`NAME/VERSION`, or `NAME@ALIAS` resolved now) and dataset
        (`NAME@VERSION`, or `NAME` for the latest) must exist in the project; the evaluation
        records the exact versions, and becomes `evaluation:ID` in the lineage graph, used by
        nothing and using both."""
        new = check_new_evaluation(new)
        model = None if new.model is None else self._model(new.model, new.project)
        dataset = None if new.dataset is None else self._dataset(new.dataset, new.project)
        evaluation_id = new_id()
        evaluation = _from_new(new, evaluation_id, model, dataset, actor, now_ms())
        name, version = (None, None) if model is None else (model[0], model[1])
        row = {
            "id": evaluation_id,
            "project": new.project,
            "task": new.task,
            "model_name": name,
            "model_version": version,
            "dataset": dataset,
            "rows": new.rows,
            "labels_digest": new.labels_digest,
            "body": json.dumps(evaluation.to_dict(), allow_nan=False),
            "created_by": actor,
            "created_at": evaluation.created_at,
        }
        with changing(self.db, self.events, actor) as change:
            self.projects.require_in(change.conn, new.project)
            store.insert(change.conn, row)
            summary = {
                "task": evaluation.task,
                "model": evaluation.model,
                "dataset": evaluation.dataset,
                "rows": evaluation.rows,
                "metrics": evaluation.metrics,
            }
            change.audit(
                AuditEntry(
                    actor, "evaluation.record", "evaluation", evaluation_id, new.project, None, summary
                )
            )
            change.emit(
                "evaluation.recorded",
                f"evaluation:{evaluation_id}",
                {"evaluation_id": evaluation_id, "project": new.project, **summary},
                project=new.project,
            )
            self._record_lineage(change, evaluation)
        return evaluation

    def _record_lineage(self, change: Change, evaluation: Evaluation) -> None:
        if self.lineage is None:  # a platform built without the lineage capability
            return
        node = evaluation.node
        attributes: dict[str, Any] = {"task": evaluation.task, "rows": evaluation.rows}
        for name, value in list(evaluation.metrics.items())[:6]:
            attributes[name] = value
        label = f"{evaluation.task} of {evaluation.model or 'a model'}"
        if evaluation.dataset:
            label += f" on {evaluation.dataset}"
        self.lineage.record(change, node, project=evaluation.project, label=label, attributes=attributes)
        if evaluation.model is not None:
            self.lineage.link(
                change, f"model:{evaluation.model}", node, "used", "evaluation", project=evaluation.project
            )
        if evaluation.dataset is not None:
            self.lineage.link(
                change,
                f"dataset:{evaluation.dataset}",
                node,
                "used",
                "evaluation",
                project=evaluation.project,
            )

    def _model(self, ref: str, project: str) -> tuple[str, int]:
        if self.registry is None:
            raise Conflict("this platform is built without the model registry: name no model")
        found = self.registry.get_version(_model_ref(ref), project=project)
        return str(found.name), int(found.version)

    def _dataset(self, ref: str, project: str) -> str:
        from plimsoll.data.entities import parse_ref

        if self.data is None:
            raise Conflict("this platform is built without datasets: name no dataset")
        found = self.data.get_version(*parse_ref("dataset", ref), project=project)
        return str(found.ref)

    def get(self, evaluation_id: str, *, project: str = DEFAULT_PROJECT) -> Evaluation:
        evaluation_id = check_id("evaluation_id", evaluation_id)
        check_name("project", project)
        with self.db.read() as conn:
            found = store.row(conn, project, evaluation_id)
            if found is None:
                self.projects.require_in(conn, project)
                raise NotFound(f"evaluation {evaluation_id!r} not found in project {project!r}")
        return _evaluation(found)

    def list(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = DEFAULT_EVALUATIONS_LISTED,
    ) -> builtins.list[Evaluation]:
        """The project's evaluations, newest first: of `model` (`NAME`, every version, or
        `NAME/VERSION`) and of `dataset` (`NAME@VERSION`, or `NAME` for its latest) if given."""
        check_name("project", project)
        check_int("limit", limit, minimum=1, maximum=MAX_EVALUATIONS_LISTED)
        name, version = (None, None) if model is None else _model_filter(model)
        if dataset is not None:
            dataset = self._dataset(dataset, project)
        with self.db.read() as conn:
            self.projects.require_in(conn, project)
            rows = store.rows(
                conn, project, model_name=name, model_version=version, dataset=dataset, limit=limit
            )
        return [_evaluation(row) for row in rows]

    def gate_evidence(self, project: str, name: str, version: int) -> dict[str, Any] | None:
        """The release gates' evidence for model version NAME/VERSION: its newest evaluation's
        (`Evaluation.evidence`), or None when it has none. The gates capability reads it through
        `GateService.add_evidence_source`, at every gate run, so that a new evaluation counts."""
        with self.db.read() as conn:
            found = store.rows(conn, project, model_name=name, model_version=version, dataset=None, limit=1)
        return _evaluation(found[0]).evidence() if found else None

    def compare(self, champion_id: str, challenger_id: str, *, project: str = DEFAULT_PROJECT) -> Comparison:
        """Champion against challenger: every number both hold (metrics, fairness quantities,
        latency, cost) with the challenger's change and the side it favours. Both must be of the
        same task on the same data: the same true labels, row for row (their digests)."""
        champion = self.get(champion_id, project=project)
        challenger = self.get(challenger_id, project=project)
        if champion.task != challenger.task:
            raise Conflict(
                f"the champion is a {champion.task} evaluation and the challenger a {challenger.task} one"
            )
        if champion.labels_digest != challenger.labels_digest or champion.rows != challenger.rows:
            raise Conflict(
                "the champion and the challenger were not evaluated on the same data (their true labels "
                f"differ: {champion.rows} rows on {champion.dataset or 'a table'} against "
                f"{challenger.rows} on {challenger.dataset or 'a table'}); evaluate both on the same rows",
                details={"champion": champion.id, "challenger": challenger.id},
            )
        return Comparison(champion, challenger, compare_measurements(champion, challenger))


def _model_ref(ref: str) -> str:
    from plimsoll.model_registry.entities import parse_model_ref

    name, version, alias = parse_model_ref("model", ref)
    if version is None and alias is None:
        raise InvalidParameter("model", f"must name a version: {name}/VERSION or {name}@ALIAS")
    return ref


def _model_filter(model: str) -> tuple[str, int | None]:
    from plimsoll.model_registry.entities import parse_model_ref

    name, version, alias = parse_model_ref("model", model)
    if alias is not None:
        raise InvalidParameter("model", f"must be NAME or NAME/VERSION, not an alias: {model!r}")
    return name, version


def _from_new(
    new: NewEvaluation,
    evaluation_id: str,
    model: tuple[str, int] | None,
    dataset: str | None,
    actor: str,
    at: int,
) -> Evaluation:
    return Evaluation(
        id=evaluation_id,
        project=new.project,
        task=new.task,
        rows=new.rows,
        labels_digest=new.labels_digest,
        metrics=dict(new.metrics),
        model=None if model is None else f"{model[0]}/{model[1]}",
        dataset=dataset,
        slices=new.slices,
        fairness=new.fairness,
        curves=new.curves,
        latency=new.latency,
        cost=new.cost,
        bootstrap=new.bootstrap,
        threshold=new.threshold,
        description=new.description,
        created_by=actor,
        created_at=at,
        notes=new.notes,
    )


def _evaluation(row: Any) -> Evaluation:
    return Evaluation.from_dict(json.loads(row["body"]))
