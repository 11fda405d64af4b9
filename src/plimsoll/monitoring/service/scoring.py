"""Batch scoring: what the server keeps of a scoring the SDK ran where the model is loaded.

The SDK (`client.monitoring.score`) loads the model version, predicts the dataset version chunk
by chunk, logs each chunk through `log` (idempotent by its batch id) and registers the
predictions as a dataset version; then `record_scoring` checks that the versions it names exist
and links the output in the lineage graph, in one transaction with its audit entry:

    dataset:IN@V  --derived-->  dataset:OUT@W  <--produced--  model:NAME/VERSION

The input is not linked *to* the model: a dataset a model scored is not one it depends on (it
was not trained on it), so deleting it is not refused for the model's sake, and the model does
not show as impacted by it. The server never loads a model (docs/security.md).
"""

from __future__ import annotations

from plimsoll.core.audit import AuditEntry
from plimsoll.core.changes import changing
from plimsoll.core.errors import InvalidParameter
from plimsoll.data.entities import parse_ref as parse_dataset_ref
from plimsoll.monitoring.entities import Scoring, check_scoring
from plimsoll.monitoring.service.base import ServiceBase


class ScoringOps(ServiceBase):
    def record_scoring(self, scoring: Scoring, *, actor: str) -> Scoring:
        """Record `scoring`: its model version and both dataset versions must exist in its
        project, and the output hold its rows. Recording it again changes nothing in the graph."""
        scoring = check_scoring(scoring)
        project = scoring.project
        model = self.registry.get_version(scoring.model, project=project)
        if self.data is None:  # a platform built without the data capability
            raise InvalidParameter(
                "output", "this platform keeps no datasets: a scoring has no output to record"
            )
        scored = self.data.get_version(*parse_dataset_ref("dataset", scoring.dataset), project=project)
        output = self.data.get_version(*parse_dataset_ref("output", scoring.output), project=project)
        if output.rows is not None and output.rows != scoring.rows:
            raise InvalidParameter(
                "rows",
                f"says {scoring.rows}, but {output.ref} holds {output.rows} rows: it is not this scoring's output",
            )
        with changing(self.db, self.events, actor) as change:
            self.projects.require_in(change.conn, project)
            if self.lineage is not None:
                target = f"dataset:{output.ref}"
                self.lineage.link(change, f"dataset:{scored.ref}", target, "derived", project=project)
                self.lineage.link(change, f"model:{model.ref}", target, "produced", project=project)
            change.audit(
                AuditEntry(actor, "monitoring.score", "scoring", output.ref, project, None, scoring.to_dict())
            )
        return scoring
