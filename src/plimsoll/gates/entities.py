"""Release gates' records, no I/O: the evidence a gate run judges, each gate's result, waivers,
approvals, the decision record (what is signed) and a promotion.

Evidence is what was measured about one model version, in one JSON shape whoever measured it
(the evaluation capability, a CI job's file):

    {"metrics": {"roc_auc": 0.91},
     "slices": {"region": {"eu": {"count": 1200, "metrics": {"accuracy": 0.88}}}},
     "fairness": {"demographic_parity_difference": {"value": 0.03, "lower": 0.01, "upper": 0.06}},
     "latency": {"single_p99_ms": 31}, "cost": {"price_per_1000": 0.12},
     "datasets": {"training": "train@3", "evaluation": "holdout@1"},
     "outputs": ["...", "..."]}
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_name, check_text, printable

MAX_OUTPUTS = 10_000
MAX_OUTPUT_LENGTH = 100_000
MAX_ENTRIES = 1_000  # metrics, slices, fairness measures ... of one evidence document
MAX_COMMENT_LENGTH = 2_000
MAX_COUNT = 2**53  # rows in a slice: as a JSON number carries them exactly
MAX_GATE_NAME_LENGTH = 100
MAX_SLICE_KEY_LENGTH = 256  # a slice's column and value: as long as the evaluation stores them
# How many failing outputs (or slices) a result keeps as evidence: enough to see the pattern.
MAX_EXAMPLES = 20

SEVERITIES: tuple[str, ...] = ("blocking", "warning")
STATUSES: tuple[str, ...] = ("passed", "failed", "skipped", "waived")
# A decision's verdict: `pending` while a promotion waits for its approvals.
VERDICTS: tuple[str, ...] = ("passed", "failed", "pending", "rejected")
PURPOSES: tuple[str, ...] = ("check", "promotion")
# A promotion: its gates run (`checking`), then it waits for approvals or ends.
PROMOTION_STATES: tuple[str, ...] = (
    "checking",
    "failed",
    "awaiting_approval",
    "promoted",
    "rejected",
    "conflicted",
)
OPEN_PROMOTION_STATES: tuple[str, ...] = ("checking", "awaiting_approval")
INTEGRITY: tuple[str, ...] = ("verified", "tampered", "unknown_key")

DATASET_REF_PATTERN = r"^[^@/:]{1,200}@[1-9][0-9]{0,17}$"
_DATASET_REF = re.compile(DATASET_REF_PATTERN)
# What counts as blank in a comment that must say something: JSON Schema's (ECMAScript's) `\s`,
# spelt out, so that the API's document and the service draw the line at the same characters.
BLANKS = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SAID_PATTERN = f"^[^\u0000]*[^\u0000{BLANKS}][^\u0000]*$"
_SAID = re.compile(f"[^{BLANKS}]")


# -- evidence ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """A measure with its confidence interval (`lower`, `upper`; None when not reported)."""

    value: float
    lower: float | None = None
    upper: float | None = None
    confidence: float = 0.95


@dataclass(frozen=True)
class SliceEvidence:
    count: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class DatasetEvidence:
    """A dataset version the model version used, and its validation: "passed", "failed", or None
    (never validated). The server fills `digest` and `validation` from the dataset registry."""

    ref: str  # NAME@VERSION
    digest: str | None = None
    validation: str | None = None


@dataclass(frozen=True)
class Evidence:
    metrics: dict[str, float] = field(default_factory=dict)
    slices: dict[str, dict[str, SliceEvidence]] = field(default_factory=dict)
    fairness: dict[str, Interval] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    cost: dict[str, float] = field(default_factory=dict)
    datasets: dict[str, DatasetEvidence] = field(default_factory=dict)
    outputs: tuple[str, ...] = ()
    source: str = ""  # where it came from: "request", "evaluation:<id>", "decision:<id>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"outputs": list(self.outputs)}

    def with_datasets(self, datasets: Mapping[str, DatasetEvidence]) -> Evidence:
        return replace(self, datasets=dict(datasets))

    @classmethod
    def from_dict(cls, data: Any, field_name: str = "evidence") -> Evidence:
        """Evidence from its JSON shape (see the module's docstring); every refusal names the field."""
        if data is None:
            return cls()
        document = _object(field_name, data)
        known = {"metrics", "slices", "fairness", "latency", "cost", "datasets", "outputs", "source"}
        for key in document:
            if key not in known:
                raise InvalidParameter(
                    f"{field_name}.{printable(key)}",
                    f"is not part of evidence; it holds: {', '.join(sorted(known))}",
                )
        return cls(
            metrics=_numbers(f"{field_name}.metrics", document.get("metrics")),
            slices=_slices(f"{field_name}.slices", document.get("slices")),
            fairness=_intervals(f"{field_name}.fairness", document.get("fairness")),
            latency=_numbers(f"{field_name}.latency", document.get("latency")),
            cost=_numbers(f"{field_name}.cost", document.get("cost")),
            datasets=_datasets(f"{field_name}.datasets", document.get("datasets")),
            outputs=_outputs(f"{field_name}.outputs", document.get("outputs")),
            source=check_text(f"{field_name}.source", document.get("source") or "", max_length=200),
        )


def _object(field_name: str, value: Any, *, any_text_keys: bool = False) -> dict[str, Any]:
    """A JSON object of at most MAX_ENTRIES entries whose keys are names, or (a slice's columns
    and values, which are the data's) any text a database stores."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, f"must be an object, got {type(value).__name__}")
    if len(value) > MAX_ENTRIES:
        raise InvalidParameter(field_name, f"has {len(value)} entries; the limit is {MAX_ENTRIES}")
    for key in value:
        if any_text_keys:
            check_text(f"{field_name} key", key, max_length=MAX_SLICE_KEY_LENGTH)
        else:
            check_name(f"{field_name} key", key, max_length=200)
    return value


def _only(field_name: str, body: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    for key in body:
        if key not in keys:
            raise InvalidParameter(
                f"{field_name}.{printable(key)}", f"is not known here; the keys are: {', '.join(keys)}"
            )
    return body


def _number(field_name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameter(field_name, f"must be a number, got {printable(value)!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidParameter(field_name, f"must be a finite number, got {number}")
    return number


def _numbers(field_name: str, value: Any) -> dict[str, float]:
    return {key: _number(f"{field_name}.{key}", item) for key, item in _object(field_name, value).items()}


def _slices(field_name: str, value: Any) -> dict[str, dict[str, SliceEvidence]]:
    slices: dict[str, dict[str, SliceEvidence]] = {}
    for column, groups in _object(field_name, value, any_text_keys=True).items():
        where = f"{field_name}.{printable(column)}"
        slices[column] = {}
        for group, entry in _object(where, groups, any_text_keys=True).items():
            at = f"{where}.{printable(group)}"
            body = _only(at, _object(at, entry), ("count", "metrics"))
            count = body.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_COUNT:
                raise InvalidParameter(
                    f"{at}.count", f"must be a whole number from 0 to {MAX_COUNT}, got {printable(count)!r}"
                )
            slices[column][group] = SliceEvidence(count, _numbers(f"{at}.metrics", body.get("metrics")))
    return slices


def _intervals(field_name: str, value: Any) -> dict[str, Interval]:
    found: dict[str, Interval] = {}
    for name, entry in _object(field_name, value).items():
        at = f"{field_name}.{name}"
        if isinstance(entry, int | float) and not isinstance(entry, bool):
            found[name] = Interval(_number(at, entry))
            continue
        body = _only(at, _object(at, entry), ("value", "lower", "upper", "confidence"))
        bounds = {
            key: None if body.get(key) is None else _number(f"{at}.{key}", body[key])
            for key in ("lower", "upper")
        }
        confidence = _number(f"{at}.confidence", body.get("confidence", 0.95))
        if not 0 < confidence < 1:
            raise InvalidParameter(f"{at}.confidence", f"must be between 0 and 1, got {confidence}")
        interval = Interval(
            _number(f"{at}.value", body.get("value")), bounds["lower"], bounds["upper"], confidence
        )
        if interval.lower is not None and interval.upper is not None and interval.lower > interval.upper:
            raise InvalidParameter(at, f"lower bound {interval.lower} is above upper bound {interval.upper}")
        found[name] = interval
    return found


def check_dataset_ref(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _DATASET_REF.fullmatch(value):
        raise InvalidParameter(
            field_name, f"must be a dataset version NAME@VERSION, got {printable(value)!r}"
        )
    return value


def _datasets(field_name: str, value: Any) -> dict[str, DatasetEvidence]:
    found: dict[str, DatasetEvidence] = {}
    for role, entry in _object(field_name, value).items():
        at = f"{field_name}.{role}"
        if isinstance(entry, str):
            found[role] = DatasetEvidence(check_dataset_ref(at, entry))
            continue
        body = _only(at, _object(at, entry), ("ref", "digest", "validation"))
        validation = body.get("validation")
        if validation not in (None, "passed", "failed"):
            raise InvalidParameter(
                f"{at}.validation", f"must be 'passed', 'failed' or null, got {printable(validation)!r}"
            )
        digest = body.get("digest")
        if digest is not None:
            digest = check_text(f"{at}.digest", digest, max_length=64)
        found[role] = DatasetEvidence(check_dataset_ref(f"{at}.ref", body.get("ref")), digest, validation)
    return found


def _outputs(field_name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidParameter(field_name, f"must be a list of strings, got {type(value).__name__}")
    if len(value) > MAX_OUTPUTS:
        raise InvalidParameter(field_name, f"has {len(value)} outputs; the limit is {MAX_OUTPUTS}")
    return tuple(
        check_text(f"{field_name}[{index}]", item, max_length=MAX_OUTPUT_LENGTH)
        if isinstance(item, str)
        else _not_text(f"{field_name}[{index}]", item)
        for index, item in enumerate(value)
    )


def _not_text(field_name: str, value: Any) -> str:
    raise InvalidParameter(field_name, f"must be a string, got {type(value).__name__}")


def evidence_of(decision_evidence: Mapping[str, Any] | None) -> Evidence | None:
    """The evidence a stored decision recorded (None when it recorded none)."""
    if not decision_evidence:
        return None
    return Evidence.from_dict(dict(decision_evidence))


# -- results, waivers, approvals -----------------------------------------------------------------


@dataclass(frozen=True)
class GateResult:
    """One gate's outcome: `status` passed, failed, skipped (it could not be judged: a change gate
    without a baseline, slices all too small) or waived (failed, under an active waiver), with a
    sentence saying why and the `evidence` it was judged on."""

    gate: str
    kind: str
    severity: str  # "blocking" or "warning"
    status: str
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)
    waiver: str | None = None  # the waiver's id, when waived
    line: int | None = None  # of the gate in the policy

    @property
    def blocks(self) -> bool:
        """A failed blocking gate: what makes the verdict `failed`."""
        return self.status == "failed" and self.severity == "blocking"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateResult:
        return cls(**{key: data.get(key) for key in _fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Waiver:
    """A failed gate let through for one model version and alias, until `expires_at`: with a reason,
    given by an approver."""

    id: str
    project: str
    model: str
    version: int
    alias: str
    gate: str
    reason: str
    approver: str
    created_at: int
    expires_at: int

    def active(self, now: int) -> bool:
        return self.expires_at > now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Waiver:
        return cls(**{key: data[key] for key in _fields(cls)})


@dataclass(frozen=True)
class Approval:
    approver: str
    comment: str
    approved_at: int
    expires_at: int

    def valid(self, now: int) -> bool:
        return self.expires_at > now

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Approval:
        return cls(**{key: data[key] for key in _fields(cls)})


# -- the decision record -------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    """What a gate run decided, signed: the policy's digest, the model's and the data's digests,
    every gate's result with its evidence, the waivers and approvals it counted, the verdict and
    when. `integrity` is computed on reading: `verified` (the signature matches the stored record),
    `tampered` (it does not: the record was changed outside Plimsoll) or `unknown_key` (signed with
    a key this server does not hold)."""

    id: str
    purpose: str  # "check" (a CI run) or "promotion"
    project: str
    model: str
    version: int
    alias: str
    baseline: int | None  # the version the alias held when the gates ran
    policy_digest: str
    model_digest: str
    data_digests: dict[str, str]  # role -> "NAME@VERSION digest"
    results: tuple[GateResult, ...]
    waivers: tuple[Waiver, ...]
    approvals: tuple[Approval, ...]
    approvals_required: int
    verdict: str
    promotion: str | None
    evidence: dict[str, Any]
    baseline_evidence: str | None  # where the baseline's evidence came from
    created_by: str
    created_at: int
    decided_at: int
    key_id: str = ""
    signature: str = ""
    integrity: str = "verified"
    problem: str | None = None  # what `tampered` found

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    @property
    def passed(self) -> bool:
        return self.verdict == "passed"

    @property
    def blocking_failures(self) -> list[GateResult]:
        return [result for result in self.results if result.blocks]

    @property
    def warnings(self) -> list[GateResult]:
        return [r for r in self.results if r.status == "failed" and r.severity == "warning"]

    def body(self) -> dict[str, Any]:
        """What the signature covers: every field but the signature and what reading computed."""
        document = self.to_dict()
        for key in ("key_id", "signature", "integrity", "problem"):
            document.pop(key)
        return document

    def to_dict(self) -> dict[str, Any]:
        return {
            **{key: getattr(self, key) for key in _fields(type(self))},
            "results": [r.to_dict() for r in self.results],
            "waivers": [w.to_dict() for w in self.waivers],
            "approvals": [a.to_dict() for a in self.approvals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Decision:
        values: dict[str, Any] = {key: data.get(key) for key in _fields(cls) if key in data}
        values["results"] = tuple(GateResult.from_dict(r) for r in data.get("results", ()))
        values["waivers"] = tuple(Waiver.from_dict(w) for w in data.get("waivers", ()))
        values["approvals"] = tuple(Approval.from_dict(a) for a in data.get("approvals", ()))
        return cls(**values)


@dataclass(frozen=True)
class Verification:
    """The decisions of a project checked against their signatures: `problems` are those that do
    not verify."""

    project: str
    checked: int
    problems: tuple[Decision, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "checked": self.checked,
            "ok": self.ok,
            "problems": [d.to_dict() for d in self.problems],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verification:
        problems = tuple(Decision.from_dict(d) for d in data.get("problems", ()))
        return cls(data["project"], int(data["checked"]), problems)


def verdict_of(results: tuple[GateResult, ...] | list[GateResult], *, approvals_missing: bool) -> str:
    """`failed` when a blocking gate failed; else `pending` while approvals are missing; else
    `passed`. Warnings never decide."""
    if any(result.blocks for result in results):
        return "failed"
    return "pending" if approvals_missing else "passed"


# -- policies and promotions ---------------------------------------------------------------------


@dataclass(frozen=True)
class StoredPolicy:
    """The policy that guards promotions to one alias of one model, as its admin set it."""

    project: str
    model: str
    alias: str
    text: str
    digest: str
    set_by: str
    set_at: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StoredPolicy:
        return cls(**{key: data[key] for key in _fields(cls)})


@dataclass(frozen=True)
class Promotion:
    """A request to point `alias` at `version`: its gates run as a background job (`checking`),
    then it fails, waits for approvals, or moves the alias (`promoted`). An approver may reject
    it (with a comment); `conflicted`: the alias moved meanwhile, so its decision no longer holds."""

    id: str
    project: str
    model: str
    version: int
    alias: str
    status: str
    requested_by: str
    requested_at: int
    comment: str
    approvals_required: int
    decision: str | None = None
    job: str | None = None
    approvals: tuple[Approval, ...] = ()
    closed_by: str | None = None
    closed_at: int | None = None
    outcome: str = ""  # why it ended: the rejection's comment, the failed gates, the conflict

    @property
    def ref(self) -> str:
        return f"{self.model}/{self.version}"

    @property
    def open(self) -> bool:
        return self.status in OPEN_PROMOTION_STATES

    def to_dict(self) -> dict[str, Any]:
        return {
            **{key: getattr(self, key) for key in _fields(type(self))},
            "approvals": [a.to_dict() for a in self.approvals],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Promotion:
        values: dict[str, Any] = {key: data.get(key) for key in _fields(cls) if key in data}
        values["approvals"] = tuple(Approval.from_dict(a) for a in data.get("approvals", ()))
        return cls(**values)


def check_comment(field_name: str, value: Any, *, required: bool = False) -> str:
    text = check_text(field_name, value or "", max_length=MAX_COMMENT_LENGTH)
    if required and not _SAID.search(text):
        raise InvalidParameter(field_name, "is required: say why")
    return text


def _fields(cls: type) -> list[str]:
    return list(cls.__dataclass_fields__)  # type: ignore[attr-defined]
