"""Feature definitions and skew checks: typed records, the naming rules and a definition's identity
(no I/O).

A feature is a name in a project; each version is a definition: the transformation's source text
(for display and audit: nothing ever runs it from here), the BLAKE3 hash of that text normalised,
the declared dtype and the input columns the transformation reads. The definition's own digest
(over the source hash, the dtype and the inputs) is its identity, so the same definition under
the same name is the same version, and any change to it is a new version, never a silent one.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from blake3 import blake3

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import (
    INT64_MAX,
    MAX_DESCRIPTION_LENGTH,
    check_name,
    check_text,
    printable,
)
from plimsoll.data.entities import (
    DATASET_NAME_PATTERN,
    MAX_DATASET_NAME_LENGTH,
    check_dataset_name,
    parse_ref,
)

# The rules of dataset names: `NAME@VERSION` must read one way on a command line and in a URL.
FEATURE_NAME_PATTERN = DATASET_NAME_PATTERN
MAX_FEATURE_NAME_LENGTH = MAX_DATASET_NAME_LENGTH
# Version numbers are 64-bit, in the table and the API (a URL's version is data's, up to 10^18 - 1).
MAX_FEATURE_VERSION = INT64_MAX
MAX_SOURCE_LENGTH = 200_000
MAX_FUNCTION_LENGTH = 1000
MAX_INPUTS = 1000
MAX_INPUT_LENGTH = 256
MAX_FEATURES_PER_CHECK = 200
MAX_LABEL_LENGTH = 500
# Summaries as `stats.to_bytes` writes them are a few KiB a column.
MAX_PROFILE_BYTES = 16 * 1024 * 1024
# What the source hash and the definition digest are computed over (format 1).
SOURCE_FORMAT = 1
DEFINITION_FORMAT = 1

# The dtypes a feature may declare, and the statistics engine's kind for each: a numeric column is
# compared by its distribution, a categorical one by its labels' shares.
DTYPES: dict[str, str] = {
    "float64": "numeric",
    "int64": "numeric",
    "bool": "categorical",
    "string": "categorical",
}

# A source holds one character that is not white space (as JSON Schema's `\\s` and Python's
# `str.isspace` both read it, spelled out so that the document and the check agree).
_BLANK = r"\u0000\t\n\u000b\u000c\r \u001c-\u001f\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
SOURCE_PATTERN = rf"^[^\u0000]*[^{_BLANK}][^\u0000]*$"
_NOT_BLANK = re.compile(rf"[^{_BLANK}]")

VERDICTS: tuple[str, ...] = ("skewed", "consistent", "untested")
# The quantiles a numeric feature's shift is shown at.
SHIFT_QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
# The labels a categorical feature's shift lists, those whose share moved most first.
SHIFT_LABELS = 10


def normalized_source(source: str) -> str:
    """The text a source hash is taken over: common indentation removed (a method and a module-level
    function of the same text are the same), line ends as LF, trailing spaces and blank lines at
    either end dropped. Nothing else: a changed comment is a changed text, since nothing here can
    tell a harmless edit from one that changes what the function computes."""
    lines = source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    text = textwrap.dedent("\n".join(line.rstrip() for line in lines))
    return text.strip("\n")


def source_hash(source: str) -> str:
    """BLAKE3 of the normalised source, after a header naming the format."""
    hasher = blake3(f"plimsoll-feature-source {SOURCE_FORMAT}\n".encode())
    hasher.update(normalized_source(source).encode())
    return hasher.hexdigest()


def definition_digest(hashed_source: str, dtype: str, inputs: Sequence[str]) -> str:
    """A definition's identity: what it computes (the source hash), what it returns (the dtype) and
    what it reads (the inputs, in their order: the function receives them in it)."""
    hasher = blake3(f"plimsoll-feature-definition {DEFINITION_FORMAT}\n".encode())
    hasher.update(f"{hashed_source}\0{dtype}\0{json.dumps(list(inputs))}\n".encode())
    return hasher.hexdigest()


@dataclass(frozen=True)
class FeatureVersion:
    """One version of a feature's definition. `changes` says what differs from the version before
    it (`source`, `dtype`, `inputs`; empty for version 1)."""

    name: str
    project: str
    version: int
    dtype: str
    inputs: tuple[str, ...]
    source_hash: str
    digest: str
    source: str
    function: str  # `module:qualname` of the function it was registered from
    description: str
    created_by: str
    created_at: int
    changes: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def kind(self) -> str:
        """The statistics engine's kind of its values: `numeric` or `categorical`."""
        return DTYPES[self.dtype]

    def __repr__(self) -> str:
        changed = f" ({', '.join(self.changes)} changed)" if self.changes else ""
        return f"<FeatureVersion {self.ref} {self.dtype} source {self.source_hash[:12]}{changed}>"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "inputs": list(self.inputs), "changes": list(self.changes)}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> FeatureVersion:
        return cls(
            **{
                **body,
                "inputs": tuple(body.get("inputs") or ()),
                "changes": tuple(body.get("changes") or ()),
            }
        )


@dataclass(frozen=True)
class Feature:
    """A feature name in a project, with its newest version."""

    name: str
    project: str
    created_at: int
    latest: FeatureVersion

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "project": self.project,
            "created_at": self.created_at,
            "latest": self.latest.to_dict(),
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Feature:
        return cls(
            body["name"], body["project"], body["created_at"], FeatureVersion.from_dict(body["latest"])
        )


@dataclass(frozen=True)
class NewDefinition:
    """What a registration sends: everything but what the service works out (the hashes, the
    version, who and when)."""

    name: str
    project: str
    dtype: str
    inputs: tuple[str, ...]
    source: str
    function: str
    description: str = ""


def _ref_pattern() -> str:
    """`NAME` or `NAME@VERSION` as one regular expression for the OpenAPI document: a dataset's
    name (`data.entities.DATASET_NAME_PATTERN`, at most MAX_FEATURE_NAME_LENGTH characters), then
    an optional version number."""
    from plimsoll.core.validation import _BIDI, _SPACES

    inner = rf"[^\u0000-\u001f\u007f{_BIDI}/\\@:]"
    edge = rf"[^\u0000-\u001f\u007f{_SPACES}{_BIDI}/\\@:]"
    name = rf"(?!\.\.?(?:@|$)){edge}(?:{inner}{{0,{MAX_FEATURE_NAME_LENGTH - 2}}}{edge})?"
    return rf"^{name}(?:@[1-9][0-9]{{0,17}})?$"


DATASET_REF_PATTERN = _ref_pattern()


def check_feature_name(field_name: str, value: Any) -> str:
    """A dataset's naming rules: no '@', '/' or ':', up to 200 characters."""
    return check_dataset_name(field_name, value)


def check_dtype(field_name: str, value: Any) -> str:
    if value not in DTYPES:
        raise InvalidParameter(field_name, f"must be one of {', '.join(DTYPES)}; got {printable(value)!r}")
    return str(value)


def check_inputs(field_name: str, values: Any) -> tuple[str, ...]:
    """The columns a transformation reads: at least one, each named once."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise InvalidParameter(field_name, f"must be a list of column names, got {type(values).__name__}")
    if not values:
        raise InvalidParameter(field_name, "is empty: name the columns the function reads")
    if len(values) > MAX_INPUTS:
        raise InvalidParameter(field_name, f"has {len(values)} columns; the limit is {MAX_INPUTS}")
    seen: set[str] = set()
    for index, value in enumerate(values):
        if not isinstance(value, str) or not value:
            raise InvalidParameter(
                f"{field_name}[{index}]", f"must be a non-empty column name, got {printable(value)!r}"
            )
        check_text(f"{field_name}[{index}]", value, max_length=MAX_INPUT_LENGTH)
        if value in seen:
            raise InvalidParameter(field_name, f"names the column {printable(value)!r} twice")
        seen.add(value)
    return tuple(values)


def check_definition(new: NewDefinition) -> NewDefinition:
    """Every field of a registration checked, naming the field and its limit."""
    check_feature_name("name", new.name)
    check_name("project", new.project)
    check_dtype("dtype", new.dtype)
    inputs = check_inputs("inputs", new.inputs)
    if new.name in inputs:
        # A table holding both the feature and its input could not tell one from the other.
        raise InvalidParameter(
            "name",
            f"{new.name!r} is also one of the feature's inputs; a feature's values and its inputs "
            "share tables, so name the feature differently from the columns it reads",
        )
    check_text("source", new.source, max_length=MAX_SOURCE_LENGTH)
    if not _NOT_BLANK.search(new.source):
        raise InvalidParameter("source", "is blank: a definition needs its function's source")
    check_text("function", new.function, max_length=MAX_FUNCTION_LENGTH)
    check_text("description", new.description, max_length=MAX_DESCRIPTION_LENGTH)
    return NewDefinition(new.name, new.project, new.dtype, inputs, new.source, new.function, new.description)


def parse_feature_ref(field_name: str, text: Any) -> tuple[str, int | None]:
    """`NAME` (the latest version) or `NAME@VERSION` (a number from 1)."""
    if not isinstance(text, str):
        raise InvalidParameter(
            field_name, f"must be a feature's name or NAME@VERSION, got {type(text).__name__}"
        )
    return parse_ref(field_name, text)


def changes_between(
    before: FeatureVersion | None, hashed_source: str, dtype: str, inputs: tuple[str, ...]
) -> tuple[str, ...]:
    """What a new definition changes of the version before it: its source, dtype or inputs."""
    if before is None:
        return ()
    changed = (
        ("source", before.source_hash != hashed_source),
        ("dtype", before.dtype != dtype),
        ("inputs", before.inputs != inputs),
    )
    return tuple(name for name, differs in changed if differs)


# -- skew checks ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkewInput:
    """One side of a skew check as asked: a dataset version (`NAME` or `NAME@VERSION`) whose stored
    profile holds the features' columns, or a profile (`stats.to_bytes` of a table summary whose
    columns are named after the features) computed where the data is; both, when the profile was
    computed from that dataset version's data. `label` says what the side is, for readers."""

    dataset: str | None = None
    profile: bytes | None = None
    label: str | None = None


@dataclass(frozen=True)
class SkewSide:
    """One side of a skew check: what it was (`label`), the dataset version it came from if any,
    its rows and the profile the verdicts were computed from (a blob)."""

    label: str
    rows: int
    profile_digest: str
    dataset: str | None = None  # NAME@VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> SkewSide:
        return cls(body["label"], int(body["rows"]), body["profile_digest"], body.get("dataset"))


@dataclass(frozen=True)
class FeatureSkew:
    """The verdict on one feature: `skewed` (the serving values do not follow the training ones),
    `consistent`, or `untested` (`reason` says why). `severity` is the effect over the effect the
    threshold stands for (above 1: skewed). `shift` says by how much, in the feature's own terms:
    for a number, the mean and quantiles on each side; for labels, the shares that moved most and
    the labels seen on one side only; for both, the share of missing values."""

    feature: str
    version: int
    verdict: str
    kind: str
    method: str | None = None
    statistic: float | None = None
    p_value: float | None = None
    threshold: float | None = None
    effect_size: float | None = None
    severity: float | None = None
    alpha: float | None = None
    n_training: int = 0
    n_serving: int = 0
    reason: str | None = None
    shift: dict[str, Any] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.feature}@{self.version}"

    @property
    def skewed(self) -> bool:
        return self.verdict == "skewed"

    def to_dict(self) -> dict[str, Any]:
        document = asdict(self)
        for name in ("statistic", "p_value", "threshold", "effect_size", "severity", "alpha"):
            document[name] = json_float(document[name])
        return document

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> FeatureSkew:
        return cls(**{**body, "shift": dict(body.get("shift") or {})})


@dataclass(frozen=True)
class LatestVerdict:
    """A feature's verdict in the newest skew check that looked at it."""

    check_id: str
    checked_at: int
    result: FeatureSkew


@dataclass(frozen=True)
class SkewCheck:
    """A skew check: each feature's training-time profile against its serving-time one, with the
    statistics engine's verdict per feature. `skewed` names the features that disagree, the most
    severe first."""

    id: str
    project: str
    training: SkewSide
    serving: SkewSide
    features: tuple[FeatureSkew, ...]
    alpha: float
    correction: str
    alpha_effective: float
    created_by: str
    created_at: int

    @property
    def skewed(self) -> list[str]:
        """The refs of the features that disagree, the most severe first."""
        found = [f for f in self.features if f.skewed]
        found.sort(key=lambda f: (-(f.severity if f.severity is not None else math.inf), f.feature))
        return [f.ref for f in found]

    def __getitem__(self, name: str) -> FeatureSkew:
        """A feature's verdict by its name (or NAME@VERSION)."""
        for found in self.features:
            if name in (found.feature, found.ref):
                return found
        raise KeyError(f"feature {name!r} is not in this check; it has {[f.ref for f in self.features]}")

    def __repr__(self) -> str:
        return (
            f"<SkewCheck {self.id[-8:]} {len(self.features)} features, skewed={self.skewed} "
            f"training={self.training.label!r} serving={self.serving.label!r}>"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "project": self.project,
            "training": self.training.to_dict(),
            "serving": self.serving.to_dict(),
            "features": [f.to_dict() for f in self.features],
            "skewed": self.skewed,
            "alpha": self.alpha,
            "correction": self.correction,
            "alpha_effective": self.alpha_effective,
            "created_by": self.created_by,
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> SkewCheck:
        return cls(
            id=body["id"],
            project=body["project"],
            training=SkewSide.from_dict(body["training"]),
            serving=SkewSide.from_dict(body["serving"]),
            features=tuple(FeatureSkew.from_dict(f) for f in body["features"]),
            alpha=float(body["alpha"]),
            correction=body["correction"],
            alpha_effective=float(body["alpha_effective"]),
            created_by=body["created_by"],
            created_at=int(body["created_at"]),
        )

    def to_frame(self) -> Any:
        """One row per feature (a pandas DataFrame): verdict, test, statistic, p-value, threshold,
        severity, the means on each side (numbers) and why a feature went untested."""
        import pandas as pd

        rows = []
        for found in self.features:
            mean = found.shift.get("mean") or {}
            rows.append(
                {
                    "feature": found.ref,
                    "verdict": found.verdict,
                    "kind": found.kind,
                    "method": found.method,
                    "statistic": found.statistic,
                    "p_value": found.p_value,
                    "threshold": found.threshold,
                    "severity": found.severity,
                    "training_mean": mean.get("training"),
                    "serving_mean": mean.get("serving"),
                    "reason": found.reason,
                }
            )
        return pd.DataFrame(rows).set_index("feature")


def json_float(value: Any) -> float | None:
    """A float JSON carries: None for NaN and the infinities."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
