"""Evaluation: a model's metrics on data by task (classification, regression), per slice, fairness
per sensitive feature with bootstrap intervals, latency and cost; stored, compared champion
against challenger on the same data, and linked in the lineage graph between the model version
and the dataset version. docs/evaluation.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup

CAPABILITY = Capability(
    name="evaluation",
    title="Evaluations",
    tables="plimsoll.evaluation.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.evaluation.service:EvaluationService",
    router="plimsoll.evaluation.api:router",
    permissions="plimsoll.evaluation.permissions:PERMISSIONS",
    events="plimsoll.evaluation.events:EVENTS",
    cli=(CliGroup("evaluations", "plimsoll.cli.evaluations:app"),),
)
