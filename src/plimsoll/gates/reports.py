"""A decision as a Markdown report (a pull request's comment) and as JUnit XML (a CI system's test
report: one test case per gate). Pure functions of the decision."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from datetime import UTC, datetime

from plimsoll.gates.entities import Decision, GateResult

MARKS = {"passed": "✅", "failed": "❌", "skipped": "⏭️", "waived": "🟡"}
WARNING_MARK = "⚠️"


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _mark(result: GateResult) -> str:
    if result.status == "failed" and result.severity == "warning":
        return WARNING_MARK
    return MARKS.get(result.status, "")


def markdown(decision: Decision) -> str:
    """The report a pull request's comment shows: verdict, what was judged, one row per gate."""
    verdict = {"passed": "✅ passed", "failed": "❌ failed", "pending": "⏳ passed, awaiting approvals"}.get(
        decision.verdict, decision.verdict
    )
    baseline = "none" if decision.baseline is None else f"{decision.model}/{decision.baseline}"
    lines = [
        f"## Release gates: {decision.model}/{decision.version} → {decision.alias}: {verdict}",
        "",
        f"Decision `{decision.id}` at {_when(decision.created_at)} by {decision.created_by}; "
        f"policy `{decision.policy_digest[:16]}`; model digest `{decision.model_digest[:16]}`; "
        f"baseline {baseline}; signature {decision.integrity}.",
        "",
        "| | gate | kind | severity | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for result in decision.results:
        lines.append(
            f"| {_mark(result)} | {_cell(result.gate)} | {result.kind} | {result.severity} | {_cell(result.reason)} |"
        )
    counts = {status: sum(r.status == status for r in decision.results) for status in MARKS}
    warnings = len(decision.warnings)
    lines += [
        "",
        f"{counts['passed']} passed, {len(decision.blocking_failures)} failed, {warnings} "
        f"warning{'s' if warnings != 1 else ''}, {counts['skipped']} skipped, {counts['waived']} waived.",
    ]
    if decision.data_digests:
        data = ", ".join(f"{role} `{ref}`" for role, ref in sorted(decision.data_digests.items()))
        lines += ["", f"Data: {data}."]
    if decision.waivers:
        lines += ["", "Waivers:"]
        lines += [
            f"- {_cell(w.gate)}: {_cell(w.reason)} (by {w.approver}, until {_when(w.expires_at)})"
            for w in decision.waivers
        ]
    if decision.approvals or decision.approvals_required:
        given = ", ".join(f"{a.approver}" for a in decision.approvals) or "none yet"
        lines += ["", f"Approvals: {len(decision.approvals)} of {decision.approvals_required} ({given})."]
    return "\n".join(lines) + "\n"


def junit(decision: Decision) -> str:
    """JUnit XML: a test suite for the decision, a test case per gate. A failed blocking gate is a
    failure; a skipped gate is skipped; a failed warning gate or a waived one passes with what
    happened in its output, so that a CI system shows it without failing the build."""
    suite_name = f"plimsoll gates: {decision.model}/{decision.version} -> {decision.alias}"
    suites = ElementTree.Element("testsuites", name="plimsoll gates")
    suite = ElementTree.SubElement(
        suites,
        "testsuite",
        name=suite_name,
        tests=str(len(decision.results)),
        failures=str(len(decision.blocking_failures)),
        errors="0",
        skipped=str(sum(r.status == "skipped" for r in decision.results)),
        timestamp=_when(decision.created_at),
    )
    properties = ElementTree.SubElement(suite, "properties")
    for name, value in (
        ("decision", decision.id),
        ("verdict", decision.verdict),
        ("policy_digest", decision.policy_digest),
        ("model_digest", decision.model_digest),
        ("integrity", decision.integrity),
    ):
        ElementTree.SubElement(properties, "property", name=name, value=value)
    classname = f"plimsoll.gates.{decision.model}.{decision.alias}"
    for result in decision.results:
        case = ElementTree.SubElement(suite, "testcase", name=result.gate, classname=classname, time="0")
        evidence = json.dumps(result.evidence, sort_keys=True, indent=2, default=str)
        if result.blocks:
            failure = ElementTree.SubElement(case, "failure", message=result.reason, type="blocking")
            failure.text = evidence
        elif result.status == "skipped":
            ElementTree.SubElement(case, "skipped", message=result.reason)
        elif result.status in ("failed", "waived"):
            out = ElementTree.SubElement(case, "system-out")
            label = "WARNING" if result.status == "failed" else "WAIVED"
            out.text = f"{label}: {result.reason}\n{evidence}"
    ElementTree.indent(suites)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(suites, encoding="unicode") + "\n"
    )
