"""Monitoring's records and the checks of what a logger sends (no I/O).

What a model saw and said is logged as rows of three kinds, each kind a table of its own shape:

    predictions   __id, __ts, __prediction, [__score], then the features by their own names
    labels        __id, __ts, __label                  (the truth, arriving later)
    outcomes      __id, __ts, then numeric outcomes     (revenue, converted, ...)

`__id` joins a label or an outcome to its prediction; `__ts` is when the prediction was made (or
the label or outcome arrived), in epoch milliseconds. Rows are stored as Parquet segments in the
blob store, and indexed in SQL by model version, deployment, role and day (`Segment`).
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_int, check_name, check_text, printable
from plimsoll.data.entities import parse_ref as parse_dataset_ref
from plimsoll.model_registry.entities import check_alias, parse_model_ref

KINDS: tuple[str, ...] = ("predictions", "labels", "outcomes")
# How batches travel over HTTP (JSON is accepted too).
ARROW_STREAM = "application/vnd.apache.arrow.stream"
# The role of the version that answered, when a deployment served it (the serving issue's).
ROLES: tuple[str, ...] = ("stable", "canary", "shadow")
RESERVED_PREFIX = "__"
ID_COLUMN = "__id"
TS_COLUMN = "__ts"
PREDICTION_COLUMN = "__prediction"
SCORE_COLUMN = "__score"
LABEL_COLUMN = "__label"
# What each kind must hold besides its free columns (features, outcomes).
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "predictions": (ID_COLUMN, TS_COLUMN, PREDICTION_COLUMN),
    "labels": (ID_COLUMN, TS_COLUMN, LABEL_COLUMN),
    "outcomes": (ID_COLUMN, TS_COLUMN),
}
OPTIONAL_COLUMNS: dict[str, tuple[str, ...]] = {"predictions": (SCORE_COLUMN,), "labels": (), "outcomes": ()}

MAX_ROWS_PER_BATCH = 1_000_000
MAX_COLUMNS = 1_000
MAX_COLUMN_NAME_LENGTH = 256
MAX_ID_LENGTH = 128
MAX_BATCH_BYTES = 64 * 1024 * 1024  # what one request may carry (the server's body limit); the SDK splits
MAX_SEGMENTS_LISTED = 10_000
DAY_MS = 86_400_000
BATCH_ID_PATTERN = r"^[0-9a-zA-Z_-]{1,64}$"
_BATCH_ID = re.compile(BATCH_ID_PATTERN)


@dataclass(frozen=True, slots=True)
class Segment:
    """One Parquet file of logged rows, of one kind, one model version (labels and outcomes: the
    model they were logged for, version 0), one deployment and role, and one UTC day."""

    id: str
    project: str
    kind: str
    model: str  # "" for labels and outcomes logged for the whole project
    version: int  # 0 when not a prediction's
    deployment: str  # "" when not served by a deployment
    role: str  # "" when not served by a deployment
    day: int  # days since 1970-01-01, UTC
    digest: str
    rows: int
    bytes: int
    min_ts: int
    max_ts: int
    batch: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Segment:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class Logged:
    """What one logging call stored: its rows, the model version that answered (None for labels
    and outcomes), and the segments written (none new when the batch had been stored already)."""

    kind: str
    rows: int
    model: str | None
    version: int | None
    segments: tuple[str, ...]
    duplicate: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "segments": list(self.segments)}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Logged:
        return cls(
            body["kind"],
            int(body["rows"]),
            body.get("model"),
            body.get("version"),
            tuple(body.get("segments") or ()),
            bool(body.get("duplicate", False)),
        )


def check_kind(field_name: str, value: Any) -> str:
    if value not in KINDS:
        raise InvalidParameter(field_name, f"must be one of {', '.join(KINDS)}; got {printable(value)!r}")
    return str(value)


def check_role(field_name: str, value: Any) -> str:
    """A served version's role, or "" when the rows were not served by a deployment."""
    if value in ("", None):
        return ""
    if value not in ROLES:
        raise InvalidParameter(
            field_name, f"must be one of {', '.join(ROLES)} (or empty); got {printable(value)!r}"
        )
    return str(value)


def check_deployment(field_name: str, value: Any) -> str:
    if value in ("", None):
        return ""
    return check_name(field_name, value, max_length=200)


def check_batch_id(field_name: str, value: Any) -> str:
    """A logger's id for a batch: sent again (after a lost answer), the batch is stored once."""
    if not isinstance(value, str) or not _BATCH_ID.fullmatch(value):
        raise InvalidParameter(
            field_name, f"must be 1 to 64 letters, digits, '_' or '-'; got {printable(value)[:80]!r}"
        )
    return value


def check_column_name(field_name: str, name: Any, *, kind: str) -> str:
    """A feature's or an outcome's name: any text up to the limit that does not start with the
    reserved prefix (the columns Plimsoll adds start with it)."""
    text = check_text(field_name, name, max_length=MAX_COLUMN_NAME_LENGTH)
    if not text:
        raise InvalidParameter(field_name, "is empty: a column needs a name")
    if text.startswith(RESERVED_PREFIX) and text not in (*REQUIRED_COLUMNS[kind], *OPTIONAL_COLUMNS[kind]):
        raise InvalidParameter(
            field_name,
            f"{printable(text)[:80]!r} starts with {RESERVED_PREFIX!r}, which Plimsoll's own columns use "
            f"({', '.join(REQUIRED_COLUMNS[kind] + OPTIONAL_COLUMNS[kind])}): rename it",
        )
    return text


# -- batch scoring -----------------------------------------------------------------------------------

# The columns of a scoring's output dataset: the prediction's id, what the model answered, its
# score (a classifier's: the positive class's probability, or the predicted class's), and the
# model version that answered (NAME/VERSION).
OUTPUT_ID = "id"
OUTPUT_PREDICTION = "prediction"
OUTPUT_SCORE = "score"
OUTPUT_MODEL = "model"
DEFAULT_SCORING_BATCH = 50_000
MAX_SCORING_BATCH = MAX_ROWS_PER_BATCH
MAX_SCORING_SECONDS = 10.0**9


@dataclass(frozen=True, slots=True)
class Scoring:
    """A batch scoring: every row of dataset version `dataset` predicted by model version `model`
    (the version `alias` held when the scoring began, when one was named), the predictions
    written as dataset version `output` and logged as the model's predictions in `batches`
    batches, `segments` of them new (none when a scoring run again finds every batch logged).
    The lineage graph holds `dataset -> output` (derived) and `model -> output` (produced)."""

    project: str
    model: str  # NAME/VERSION
    dataset: str  # NAME@VERSION
    output: str  # NAME@VERSION
    rows: int
    batches: int
    segments: int
    alias: str | None = None
    id_column: str | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Scoring:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__ if name in body})


def check_scoring(scoring: Scoring) -> Scoring:
    """A scoring as the service records it: exact versions (`NAME/VERSION`, `NAME@VERSION`), an
    output that is not its input, counts that fit together. Each refusal names its field."""
    check_name("project", scoring.project)
    _, version, _ = parse_model_ref("model", scoring.model)
    if version is None:
        raise InvalidParameter(
            "model", f"must name the version that predicted (NAME/VERSION); got {printable(scoring.model)!r}"
        )
    if scoring.alias is not None:
        check_alias("alias", scoring.alias)
    for field_name in ("dataset", "output"):
        text = getattr(scoring, field_name)
        if not isinstance(text, str) or parse_dataset_ref(field_name, text)[1] is None:
            raise InvalidParameter(
                field_name, f"must name a dataset version (NAME@VERSION); got {printable(text)!r}"
            )
    if scoring.output == scoring.dataset:
        raise InvalidParameter("output", f"is the dataset scored ({scoring.dataset}): name another dataset")
    if scoring.id_column is not None:
        check_id_column("id_column", scoring.id_column)
    check_int("rows", scoring.rows, minimum=1)
    check_int("batches", scoring.batches, minimum=1)
    check_int("segments", scoring.segments, minimum=0)
    seconds = scoring.seconds
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not math.isfinite(seconds):
        raise InvalidParameter("seconds", f"must be a finite number; got {printable(seconds)!r}")
    if not 0 <= seconds <= MAX_SCORING_SECONDS:
        raise InvalidParameter("seconds", f"must be from 0 to {MAX_SCORING_SECONDS:g}; got {seconds}")
    return scoring


def check_id_column(field_name: str, value: Any) -> str:
    """The dataset column whose values are the predictions' ids."""
    text = check_text(field_name, value, max_length=MAX_COLUMN_NAME_LENGTH)
    if not text:
        raise InvalidParameter(field_name, "is empty: name a column of the dataset")
    return text
