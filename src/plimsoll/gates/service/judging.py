"""Judging a version against a policy: its evidence (given, or recorded by an evidence source),
the datasets it names or the lineage graph knows, the baseline the alias holds, the results of the
gates and the decision they make; `check` does it now, for CI."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name
from plimsoll.gates import store
from plimsoll.gates.entities import DatasetEvidence, Decision, Evidence, GateResult, Waiver, verdict_of
from plimsoll.gates.evaluate import NO_BASELINE, Baseline, evaluate
from plimsoll.gates.policy import Policy, parse_policy
from plimsoll.gates.service.decisions import DecisionOps, _decision_audit, canonical
from plimsoll.model_registry.entities import ModelVersion


class JudgingOps(DecisionOps):
    # -- checks (CI) ------------------------------------------------------------------------------

    def check(
        self,
        model_ref: str,
        policy: str,
        evidence: Mapping[str, Any] | Evidence | None = None,
        *,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Decision:
        """Run `policy`'s gates on a version now and store the signed decision: `passed` when no
        blocking gate failed (approvals are a promotion's business). `model_ref` is NAME/VERSION,
        NAME@ALIAS or NAME. Without `evidence`, the evidence recorded for the version is used."""
        check_name("project", project)
        parsed = parse_policy(policy)
        given = None if evidence is None else _evidence(evidence)
        version = self.registry.get_version(model_ref, project=project)
        if parsed.model is not None and parsed.model != version.name:
            raise InvalidParameter("policy", f"is for model {parsed.model!r}, not {version.name!r}")
        results, evidence_used, baseline = self._judge(project, version, parsed, given)
        decision = self._new_decision(
            "check", version, parsed, results, evidence_used, baseline, actor, approvals_missing=False
        )
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            signed = self._store_decision(change, decision)
            change.audit(_decision_audit(actor, "gates.check", signed))
        return signed

    # -- inside: judging --------------------------------------------------------------------------

    def _judge(
        self, project: str, version: ModelVersion, policy: Policy, given: Evidence | None
    ) -> tuple[list[GateResult], Evidence, Baseline]:
        evidence = (
            given if given is not None else self._recorded_evidence(project, version.name, version.version)
        )
        evidence = self._with_datasets(project, version, evidence)
        baseline = self._baseline(project, version.name, policy.alias)
        with self.db.read() as conn:
            rows = store.waiver_rows(conn, project, version.name, version.version, policy.alias)
        waivers = [Waiver.from_dict(dict(row)) for row in rows]
        results = evaluate(policy, evidence, baseline, waivers=waivers, now=self.clock())
        return results, evidence, baseline

    def _recorded_evidence(self, project: str, name: str, version: int) -> Evidence:
        for source in self._sources:
            found = source(project, name, version)
            if found is not None:
                evidence = Evidence.from_dict(dict(found))
                return replace(evidence, source=evidence.source or "evaluation")
        return Evidence(source="none")

    def _baseline(self, project: str, name: str, alias: str) -> Baseline:
        try:
            held = self.registry.get_version(f"{name}@{alias}", project=project)
        except NotFound:
            return NO_BASELINE
        label = f"{held.ref} ({alias})"
        for source in self._sources:
            found = source(project, name, held.version)
            if found is not None:
                return Baseline(held.version, Evidence.from_dict(dict(found)), label)
        with self.db.read() as conn:
            row = store.latest_decision_with_evidence(conn, project, name, held.version)
        if row is None:
            return Baseline(held.version, None, label)
        decision = self._read_decision(row)
        if decision.integrity != "verified" or not decision.evidence:
            return Baseline(held.version, None, label)
        recorded = {
            k: v
            for k, v in decision.evidence.items()
            if k not in ("outputs", "outputs_count", "outputs_digest", "source")
        }
        return Baseline(
            held.version, replace(Evidence.from_dict(recorded), source=f"decision:{decision.id}"), label
        )

    def _with_datasets(self, project: str, version: ModelVersion, evidence: Evidence) -> Evidence:
        """The evidence's dataset versions (and, when it names no training data, those the run
        that produced the version used, from the lineage graph), with their digests and validation
        states read from the dataset registry: never taken from the request."""
        refs = {role: found.ref for role, found in evidence.datasets.items()}
        for role, ref in self._lineage_datasets(project, version).items():
            refs.setdefault(role, ref)
        datasets: dict[str, DatasetEvidence] = {}
        for role, ref in refs.items():
            if self.data is None:
                datasets[role] = DatasetEvidence(ref)
                continue
            name, _, number = ref.partition("@")
            try:
                found = self.data.get_version(name, int(number), project=project)
            except (NotFound, InvalidParameter):  # a name no dataset can have is found nowhere either
                raise NotFound(
                    f"evidence.datasets.{role}: dataset version {ref!r} not found in project {project!r}"
                ) from None
            datasets[role] = DatasetEvidence(ref, found.digest, found.validation)
        return evidence.with_datasets(datasets)

    def _lineage_datasets(self, project: str, version: ModelVersion) -> dict[str, str]:
        if self.lineage is None or version.run_id is None:
            return {}
        try:
            graph = self.lineage.upstream(project, f"run:{version.run_id}", depth=1)
        except (NotFound, InvalidParameter):
            return {}
        run = f"run:{version.run_id}"
        used = {e.source: (e.context or "") for e in graph.edges if e.target == run and e.role == "used"}
        keys = {n.id: n.key for n in graph.nodes if n.kind == "dataset"}
        found: dict[str, str] = {}
        for role, contexts in (
            ("training", ("training",)),
            ("evaluation", ("evaluation", "test", "validation")),
        ):
            for context in contexts:
                match = sorted(
                    keys[node] for node, used_as in used.items() if used_as == context and node in keys
                )
                if match:
                    found[role] = match[0]
                    break
        if "training" not in found:
            unnamed = sorted(keys[node] for node, used_as in used.items() if not used_as and node in keys)
            if len(unnamed) == 1:
                found["training"] = unnamed[0]
        return found

    def _new_decision(
        self,
        purpose: str,
        version: ModelVersion,
        policy: Policy,
        results: list[GateResult],
        evidence: Evidence,
        baseline: Baseline,
        actor: str,
        *,
        approvals_missing: bool,
        promotion: str | None = None,
    ) -> Decision:
        now = self.clock()
        return Decision(
            id=new_id(),
            purpose=purpose,
            project=version.project,
            model=version.name,
            version=version.version,
            alias=policy.alias,
            baseline=baseline.version,
            policy_digest=policy.digest,
            model_digest=version.artifact_digest,
            data_digests={
                role: f"{found.ref} {found.digest or ''}".strip() for role, found in evidence.datasets.items()
            },
            results=tuple(results),
            waivers=(),
            approvals=(),
            approvals_required=policy.approvals.required,
            verdict=verdict_of(results, approvals_missing=approvals_missing),
            promotion=promotion,
            evidence=_recorded(evidence),
            baseline_evidence=None if baseline.evidence is None else (baseline.evidence.source or "decision"),
            created_by=actor,
            created_at=now,
            decided_at=now,
        )


# -- helpers ---------------------------------------------------------------------------------------


def _evidence(value: Mapping[str, Any] | Evidence) -> Evidence:
    if isinstance(value, Evidence):
        return replace(value, source=value.source or "request")
    evidence = Evidence.from_dict(dict(value))
    return replace(evidence, source=evidence.source or "request")


def _recorded(evidence: Evidence) -> dict[str, Any]:
    """What a decision keeps of its evidence: everything but the outputs themselves (their number
    and digest instead; the safety results keep the failing ones' excerpts)."""
    from blake3 import blake3

    document = evidence.to_dict()
    outputs = document.pop("outputs")
    document["outputs_count"] = len(outputs)
    document["outputs_digest"] = blake3(canonical({"outputs": outputs}).encode()).hexdigest()
    return document
