"""What a model version's page (model_version.html) shows of the evidence about it: its
evaluations, and the release gates' decisions and promotions. Shaped here from the services'
entities; no HTTP, no HTML. A platform built without the evaluation or the gates capability has
no such section: each function takes the service or None.

evaluations_of()   the version's evaluations, newest first, and the one shown (the newest, or the
                   one chosen by `?evaluation=ID`) with what static/model-evaluation.js draws
chart_data()       one evaluation's curves, slices and fairness groups as the charts read them
gates_of()         the version's newest decisions (each gate's result with its evidence) and its
                   promotions (those awaiting approval get the approvers' forms)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from plimsoll.core.errors import NotFound
from plimsoll.core.validation import check_id
from plimsoll.evaluation.entities import Evaluation, Fairness, SliceValue
from plimsoll.evaluation.service import EvaluationService
from plimsoll.gates.entities import Decision, GateResult, Promotion
from plimsoll.gates.service import GateService
from plimsoll.model_registry.entities import ModelVersion
from plimsoll.server.ui import formatting, views
from plimsoll.server.ui.datasets import dataset_path

EVALUATIONS_LISTED = 20  # of one version, to choose from
DECISIONS_SHOWN = 5  # the newest of one version
PROMOTIONS_READ = 200  # the model's newest, of which this version's are shown
EVIDENCE_TEXT = 2_000  # characters of one nested evidence value shown


@dataclass(frozen=True)
class EvaluationView:
    shown: Evaluation
    listed: list[Evaluation]  # newest first; the shown one among them unless chosen from further back
    measures: list[tuple[str, list[tuple[str, Any]]]]  # ("Latency", [(key, value), ...]), those given
    charts: dict[str, Any]
    dataset_url: str | None
    lineage_url: str

    @property
    def drawn(self) -> bool:
        """Whether the shown evaluation has anything to draw (the page loads the charts' scripts)."""
        return bool(self.charts["curves"] or self.charts["slices"] or self.charts["fairness"])


def evaluations_of(
    service: EvaluationService | None, version: ModelVersion, chosen: str = ""
) -> EvaluationView | None:
    """The version's evaluations and the one shown: `chosen` (an evaluation's id, which must be of
    this version) or the newest. None when nothing has evaluated the version."""
    if service is None:
        return None
    listed = service.list(model=version.ref, project=version.project, limit=EVALUATIONS_LISTED)
    if chosen:
        check_id("evaluation", chosen)  # as the page's address names it
        listed_one = next((e for e in listed if e.id == chosen), None)
        shown = listed_one or service.get(chosen, project=version.project)
        if shown.model != version.ref:
            raise NotFound(f"evaluation {chosen!r} is not of {version.ref}")
    elif listed:
        shown = listed[0]
    else:
        return None
    return EvaluationView(
        shown,
        listed,
        _measures(shown),
        chart_data(shown),
        None if shown.dataset is None else dataset_url(shown.dataset, version.project),
        views.url("/lineage", project=version.project, node=shown.node),
    )


def dataset_url(ref: str, project: str) -> str:
    """The page of dataset version `NAME@VERSION`."""
    name, _, number = ref.rpartition("@")
    return views.url(dataset_path(name), project=project, version=number)


def _measures(evaluation: Evaluation) -> list[tuple[str, list[tuple[str, Any]]]]:
    found = []
    if evaluation.latency is not None:
        found.append(("Latency", _given(evaluation.latency.to_dict())))
    if evaluation.cost is not None:
        found.append(("Cost", _given(evaluation.cost.to_dict())))
    return [(title, items) for title, items in found if items]


def _given(values: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [(key, value) for key, value in values.items() if value is not None]


def chart_data(evaluation: Evaluation) -> dict[str, Any]:
    """What static/model-evaluation.js draws, as the JSON island #evaluation-data holds it:

        curves    None (a regression) or {roc: [[fpr, tpr, threshold]], pr: [[recall, precision,
                  threshold]], calibration: [{lower, upper, rows, score, positive}], confusion:
                  [[TN, FP], [FN, TP]], labels: [negative, positive]}
        slices    [{column, metrics: [names], values: [{value, rows, metrics: {name: value}}]}]
        fairness  [{feature, metrics: [names], min_group_size, groups: [{name, rows, used,
                  metrics: {name: {value, lower, upper}}}]}]

    The metrics are named as the evaluation holds them, in its order: nothing here knows one."""
    curves = evaluation.curves
    drawn = None
    if curves is not None and (curves.roc or curves.pr or curves.calibration or curves.confusion):
        drawn = {
            "roc": [list(point) for point in curves.roc],
            "pr": [list(point) for point in curves.pr],
            "calibration": [
                dict(zip(("lower", "upper", "rows", "score", "positive"), b, strict=False))
                for b in curves.calibration
            ],
            "confusion": [list(row) for row in curves.confusion],
            "labels": list(curves.labels),
        }
    return {
        "curves": drawn,
        "slices": [_slice(column, values) for column, values in evaluation.slices.items()],
        "fairness": [_fairness(feature, found) for feature, found in evaluation.fairness.items()],
    }


def _names(metrics: list[Mapping[str, Any]]) -> list[str]:
    """Every metric name of these mappings, in the order they first appear."""
    return list(dict.fromkeys(name for mapping in metrics for name in mapping))


def _slice(column: str, values: Mapping[str, SliceValue]) -> dict[str, Any]:
    return {
        "column": column,
        "metrics": _names([s.metrics for s in values.values()]),
        "values": [{"value": v, "rows": s.rows, "metrics": dict(s.metrics)} for v, s in values.items()],
    }


def _fairness(feature: str, fairness: Fairness) -> dict[str, Any]:
    return {
        "feature": feature,
        "metrics": _names([g.metrics for g in fairness.groups.values()]),
        "min_group_size": fairness.min_group_size,
        "groups": [
            {
                "name": name,
                "rows": group.rows,
                "used": group.used,
                "metrics": {metric: i.to_dict() for metric, i in group.metrics.items()},
            }
            for name, group in fairness.groups.items()
        ],
    }


# -- release gates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultRow:
    result: GateResult
    evidence: list[tuple[str, str]]  # what the gate was judged on, as text


@dataclass(frozen=True)
class DecisionView:
    decision: Decision
    results: list[ResultRow]

    @property
    def trusted(self) -> bool:
        return self.decision.integrity == "verified"


@dataclass(frozen=True)
class GatesView:
    decisions: list[DecisionView] = field(default_factory=list)
    promotions: list[Promotion] = field(default_factory=list)  # of this version, newest first

    @property
    def untrusted(self) -> int:
        """How many of the decisions shown do not verify against their signature."""
        return sum(not view.trusted for view in self.decisions)


def gates_of(service: GateService | None, version: ModelVersion) -> GatesView | None:
    """The version's newest decisions (their integrity checked on reading) and its promotions."""
    if service is None:
        return None
    decisions = service.decisions(
        version.name, version=version.version, project=version.project, limit=DECISIONS_SHOWN
    )
    promotions = service.list_promotions(version.name, project=version.project, limit=PROMOTIONS_READ)
    return GatesView(
        [DecisionView(d, [ResultRow(r, evidence_items(r.evidence)) for r in d.results]) for d in decisions],
        [p for p in promotions if p.version == version.version],
    )


def evidence_items(evidence: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """A result's evidence as (key, text) pairs, in the order the gate recorded it: numbers as the
    tables show them, nested values (a slice's groups, datasets) as compact JSON."""
    return [(str(key), evidence_text(value)) for key, value in (evidence or {}).items()]


def evidence_text(value: Any) -> str:
    if value is None:
        return formatting.DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return formatting.number(value)
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "), default=str)
    return text if len(text) <= EVIDENCE_TEXT else text[: EVIDENCE_TEXT - 1] + "…"
