"""The registry's records and the rules that need no storage: model and alias names, references
(`NAME/VERSION`, `NAME@ALIAS`, `NAME`), owners, the digest of a version's artifact, model cards,
signatures (the columns a model takes) and input examples in their JSON form."""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from blake3 import blake3

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_name, check_reference_name, check_text, printable

MAX_MODEL_NAME_LENGTH = 200
MAX_VERSION = 2**53  # as the API admits (a JSON number)
MAX_REASON_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 20_000
# Who answers for a model at each stage: alerts and incidents are routed to them.
OWNER_ROLES: tuple[str, ...] = ("training", "deployment", "monitoring", "incident_response")
# An alias reads like a word, never like a number: `NAME@2` would be ambiguous with a version.
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
_ALIAS = re.compile(ALIAS_PATTERN)
VERSION_PATTERN = r"^(?:latest|[1-9][0-9]{0,15})$"
ALIAS_ACTIONS: tuple[str, ...] = ("set", "rollback", "removed", "promote")
# A model card's fields (free text each) and the risk ratings it may carry.
CARD_FIELDS: tuple[str, ...] = ("description", "intended_use", "limitations", "risk_rating")
RISK_RATINGS: tuple[str, ...] = ("low", "medium", "high")
MAX_CARD_TEXT_LENGTH = 20_000
# The types a signature's column may have: numpy's names for numbers, and two more.
COLUMN_TYPES: tuple[str, ...] = ("bool", "int32", "int64", "float32", "float64", "string", "datetime")
SIGNATURE_LAYOUTS: tuple[str, ...] = ("frame", "array")
MAX_COLUMNS = 10_000
MAX_COLUMN_NAME_LENGTH = 256
# An input example is a few rows, kept on the version (and in the artifact) to show what a model
# takes: its JSON form is bounded.
MAX_EXAMPLE_ROWS = 100
MAX_EXAMPLE_BYTES = 64 * 1024
MAX_TYPE_NAME_LENGTH = 512
# A type as skops names it: a dotted path of Python identifiers, module first (ASCII).
TYPE_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$"
_TYPE_NAME = re.compile(TYPE_NAME_PATTERN)
MAX_NEEDED_TYPES = 1000
# The kind of record a release decision's signature is for (plimsoll.core.audit.keys): the gates
# sign decisions with it, and the registry moves a protected alias only with one that verifies.
DECISION_DOMAIN = b"plimsoll-release-decision-v1\x00"

_Record = TypeVar("_Record", bound="_Wire")


class _Wire:
    """A record's JSON form (what the API answers with) and back (what the HTTP client reads)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload, no-any-return]

    @classmethod
    def from_dict(cls: type[_Record], data: dict[str, Any]) -> _Record:
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known}
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Model(_Wire):
    project: str
    name: str
    description: str
    owners: dict[str, str]
    created_by: str
    created_at: int
    latest_version: int | None = None
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelCard(_Wire):
    """What a model is for and how far to trust it: a description, its intended use, its known
    limitations, and a risk rating (low, medium or high; "" when not rated)."""

    description: str = ""
    intended_use: str = ""
    limitations: str = ""
    risk_rating: str = ""


@dataclass(frozen=True, slots=True)
class Column(_Wire):
    name: str
    type: str  # one of COLUMN_TYPES


@dataclass(frozen=True, slots=True)
class Signature:
    """The columns a model takes (`inputs`, checked at every predict) and gives (`outputs`, as seen
    on the input example). `layout` is how the columns reach the model: "frame" (a DataFrame, by
    name) or "array" (one 2-D array, by position; the columns are named "0", "1", ...)."""

    inputs: tuple[Column, ...]
    outputs: tuple[Column, ...] = ()
    layout: str = "frame"

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
            "layout": self.layout,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return check_signature("signature", data)

    def __repr__(self) -> str:
        shown = ", ".join(f"{c.name}: {c.type}" for c in self.inputs[:8])
        more = ", ..." if len(self.inputs) > 8 else ""
        return f"<Signature ({shown}{more}) -> {', '.join(c.type for c in self.outputs) or '?'}>"


@dataclass(frozen=True, slots=True)
class ModelVersion(_Wire):
    project: str
    name: str
    version: int
    run_id: str | None
    artifact_path: str
    artifact_digest: str  # over the artifact's files (path and content digest each), see `artifact_digest`
    files: int
    bytes: int
    flavor: str
    description: str
    created_by: str
    created_at: int
    aliases: tuple[str, ...] = ()
    # From the artifact's manifest.json (written by `run.log_model`), None without one.
    signature: Signature | None = None
    input_example: dict[str, Any] | None = None  # {"columns": [...], "data": [[...], ...]}
    card: ModelCard | None = None
    # The dataset versions the run had used when the version was registered ("NAME@VERSION").
    datasets: tuple[str, ...] = ()
    # What loading it takes beyond the defaults, found by the registry in the files themselves:
    # types skops does not trust by default, approved once by a project admin ...
    needed_types: tuple[str, ...] = ()
    types_approved_by: str | None = None
    types_approved_at: int | None = None
    # ... and, for a pickle, the imports it makes (None: it loads no pickle), then an admin's trust.
    pickle_imports: tuple[str, ...] | None = None
    trusted_by: str | None = None
    trusted_at: int | None = None

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    @property
    def awaiting(self) -> str | None:
        """What loading this version waits for: "approve_types", "trust", or None."""
        if self.needed_types and self.types_approved_by is None:
            return "approve_types"
        if self.pickle_imports is not None and self.trusted_by is None:
            return "trust"
        return None

    def to_dict(self) -> dict[str, Any]:
        data = {**asdict(self), "ref": self.ref}
        data["signature"] = None if self.signature is None else self.signature.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelVersion:
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in known
        }
        if data.get("signature") is not None:
            values["signature"] = Signature.from_dict(data["signature"])
        if data.get("card") is not None:
            values["card"] = ModelCard.from_dict(data["card"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Alias(_Wire):
    name: str
    version: int
    protected: bool
    moved_by: str
    moved_at: int


ACCESS_ACTIONS: tuple[str, ...] = ("request", "approve", "rollback")
MAX_ALIAS_PEOPLE = 100


@dataclass(frozen=True, slots=True)
class AliasAccess(_Wire):
    """Who may act on one alias: `request` (move it by hand, remove it, or ask for a promotion to
    it), `approve` (its promotions) and `rollback`. An empty list leaves the action to the
    project's roles (contributors request and roll back, approvers approve); a list names the only
    users who may, on top of the role they need."""

    alias: str
    request: tuple[str, ...] = ()
    approve: tuple[str, ...] = ()
    rollback: tuple[str, ...] = ()

    def allows(self, action: str, actor: str) -> bool:
        people: tuple[str, ...] = getattr(self, action)
        return not people or actor in people

    @classmethod
    def stored(cls, alias: str, text: str | None) -> AliasAccess:
        found = json.loads(text) if text else {}
        return cls(alias, *(tuple(found.get(action, ())) for action in ACCESS_ACTIONS))

    def stored_text(self) -> str | None:
        lists = {action: list(getattr(self, action)) for action in ACCESS_ACTIONS if getattr(self, action)}
        return json.dumps(lists, sort_keys=True) if lists else None


def check_alias_people(field_name: str, people: Any) -> tuple[str, ...]:
    if people is None:
        return ()
    if isinstance(people, str) or not isinstance(people, list | tuple):
        raise InvalidParameter(field_name, f"must be a list of user names, got {type(people).__name__}")
    if len(people) > MAX_ALIAS_PEOPLE:
        raise InvalidParameter(field_name, f"names {len(people)} users; the limit is {MAX_ALIAS_PEOPLE}")
    names = [check_name(f"{field_name}[{index}]", name, max_length=128) for index, name in enumerate(people)]
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class SignedDecision:
    """A release decision as its signer stored it: `body`, the canonical JSON the signature covers
    (it holds the purpose, verdict, project, model, version, alias and baseline the registry
    checks), and the HMAC-SHA256 `signature` under the audit key `key_id`."""

    id: str
    body: str
    key_id: str
    signature: str


@dataclass(frozen=True, slots=True)
class AliasMove(_Wire):
    """One line of an alias's append-only history: who moved it to which version, when and why."""

    model: str
    alias: str
    action: str  # "set", "rollback", "removed" or "promote" (through a passing release decision)
    version: int | None  # None once removed
    previous: int | None
    actor: str
    reason: str
    at: int


@dataclass(frozen=True, slots=True)
class AliasHistory:
    """An alias's moves, newest first (those made by a time asked about, when one was), and
    `version`: the one it held then (None if it held none, or had been removed)."""

    version: int | None
    moves: tuple[AliasMove, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "moves": [move.to_dict() for move in self.moves]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AliasHistory:
        return cls(data["version"], tuple(AliasMove.from_dict(move) for move in data["moves"]))


def check_model_name(field_name: str, value: Any) -> str:
    """A project-style name without '@', '/' or ':': `NAME/VERSION` and `NAME@ALIAS` read one way."""
    return check_reference_name(field_name, value, max_length=MAX_MODEL_NAME_LENGTH)


def check_alias(field_name: str, value: Any) -> str:
    if not isinstance(value, str) or not _ALIAS.fullmatch(value):
        raise InvalidParameter(
            field_name,
            f"must be a lowercase word of 1 to 63 letters, digits, '_' or '-', starting with a letter "
            f"(e.g. 'production'); got {printable(value)!r}",
        )
    return value


def check_version(field_name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_VERSION:
        raise InvalidParameter(field_name, f"must be a whole number from 1, got {printable(value)!r}")
    return value


def check_reason(field_name: str, value: Any) -> str:
    return check_text(field_name, value or "", max_length=MAX_REASON_LENGTH)


def check_owners(field_name: str, value: Any) -> dict[str, str]:
    """Owners by role (`training`, `deployment`, `monitoring`, `incident_response`): a user's or
    a team's name each."""
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, "must be an object of role -> user or team")
    owners: dict[str, str] = {}
    for role, owner in value.items():
        if role not in OWNER_ROLES:
            raise InvalidParameter(
                f"{field_name}.{printable(role)}", f"is not a role; the roles are: {', '.join(OWNER_ROLES)}"
            )
        owners[role] = check_name(f"{field_name}.{role}", owner)
    return owners


def parse_model_ref(field_name: str, text: Any) -> tuple[str, int | None, str | None]:
    """`NAME/VERSION`, `NAME@ALIAS` or `NAME` (its latest version) → (name, version, alias)."""
    if not isinstance(text, str):
        raise InvalidParameter(
            field_name, f"must be NAME, NAME/VERSION or NAME@ALIAS; got {printable(text)!r}"
        )
    if "/" in text:
        name, _, number = text.partition("/")
        if not number.isascii() or not number.isdigit() or not 1 <= int(number) <= MAX_VERSION:
            raise InvalidParameter(
                field_name, f"version must be a whole number from 1, got {printable(number)!r} in {text!r}"
            )
        return check_model_name(field_name, name), int(number), None
    if "@" in text:
        name, _, alias = text.partition("@")
        return check_model_name(field_name, name), None, check_alias(field_name, alias)
    return check_model_name(field_name, text), None, None


def artifact_digest(files: list[tuple[str, str]]) -> str:
    """One digest for a version's artifact: BLAKE3 over each file's path and content digest, in
    path order, so that the same files give the same digest wherever they were logged."""
    hasher = blake3()
    for path, digest in sorted(files):
        hasher.update(f"{path}\0{digest}\n".encode())
    return hasher.hexdigest()


def check_card(field_name: str, value: Any) -> ModelCard:
    """A model card from a `ModelCard` or a dict of its fields (each optional)."""
    if isinstance(value, ModelCard):
        value = value.to_dict()
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, f"must be an object with {', '.join(CARD_FIELDS)}")
    for key in value:
        if key not in CARD_FIELDS:
            raise InvalidParameter(
                f"{field_name}.{printable(key)}",
                f"is not a field of a model card; they are: {', '.join(CARD_FIELDS)}",
            )
    texts = {
        key: check_text(f"{field_name}.{key}", value.get(key) or "", max_length=MAX_CARD_TEXT_LENGTH)
        for key in CARD_FIELDS
    }
    if texts["risk_rating"] not in ("", *RISK_RATINGS):
        raise InvalidParameter(
            f"{field_name}.risk_rating",
            f"must be one of {', '.join(RISK_RATINGS)} (or empty); got {printable(texts['risk_rating'])!r}",
        )
    return ModelCard(**texts)


def check_signature(field_name: str, value: Any) -> Signature:
    """A signature from its JSON form: `{"inputs": [{"name", "type"}, ...], "outputs": [...],
    "layout": "frame" | "array"}` (or a `Signature`)."""
    if isinstance(value, Signature):
        value = value.to_dict()
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, 'must be an object: {"inputs": [{"name": ..., "type": ...}, ...]}')
    unknown = set(value) - {"inputs", "outputs", "layout"}
    if unknown:
        raise InvalidParameter(
            field_name, f"has unknown fields: {', '.join(sorted(map(printable, unknown)))}"
        )
    layout = value.get("layout", "frame")
    if layout not in SIGNATURE_LAYOUTS:
        raise InvalidParameter(
            f"{field_name}.layout", f"must be 'frame' or 'array', got {printable(layout)!r}"
        )
    inputs = _columns(f"{field_name}.inputs", value.get("inputs"))
    if not inputs:
        raise InvalidParameter(f"{field_name}.inputs", "must name at least one column")
    if layout == "array" and [c.name for c in inputs] != [str(i) for i in range(len(inputs))]:
        raise InvalidParameter(
            f"{field_name}.inputs", "of an 'array' layout are named by position: '0', '1', ..."
        )
    return Signature(inputs, _columns(f"{field_name}.outputs", value.get("outputs") or []), layout)


def _columns(field_name: str, value: Any) -> tuple[Column, ...]:
    if not isinstance(value, list | tuple):
        raise InvalidParameter(field_name, "must be a list of {name, type} objects")
    if len(value) > MAX_COLUMNS:
        raise InvalidParameter(field_name, f"has {len(value)} columns; the limit is {MAX_COLUMNS}")
    columns: list[Column] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"{field_name}[{index}]"
        if isinstance(item, Column):
            item = item.to_dict()
        if not isinstance(item, dict) or set(item) != {"name", "type"}:
            raise InvalidParameter(where, 'must be an object {"name": ..., "type": ...}')
        name = check_text(f"{where}.name", item["name"], max_length=MAX_COLUMN_NAME_LENGTH)
        if not name:
            raise InvalidParameter(f"{where}.name", "must not be empty")
        if name in seen:
            raise InvalidParameter(f"{where}.name", f"column {name!r} is named twice")
        seen.add(name)
        if item["type"] not in COLUMN_TYPES:
            raise InvalidParameter(
                f"{where}.type",
                f"column {name!r}: {printable(item['type'])!r} is not a column type; the types are: "
                f"{', '.join(COLUMN_TYPES)}",
            )
        columns.append(Column(name, item["type"]))
    return tuple(columns)


def check_example(field_name: str, value: Any, signature: Signature | None) -> dict[str, Any]:
    """An input example in its JSON form, `{"columns": [...], "data": [[...], ...]}`: a few rows
    whose every value fits its column's type in `signature`; a mismatch names the column."""
    if not isinstance(value, dict) or set(value) != {"columns", "data"}:
        raise InvalidParameter(field_name, 'must be an object {"columns": [...], "data": [[...], ...]}')
    columns, rows = value["columns"], value["data"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidParameter(f"{field_name}.columns", "must be a list of column names")
    if not isinstance(rows, list) or not 1 <= len(rows) <= MAX_EXAMPLE_ROWS:
        raise InvalidParameter(f"{field_name}.data", f"must be a list of 1 to {MAX_EXAMPLE_ROWS} rows")
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise InvalidParameter(
                f"{field_name}.data[{index}]", f"must be a list of {len(columns)} values, one per column"
            )
    if signature is not None:
        expected = [c.name for c in signature.inputs]
        for name in columns:
            if name not in expected:
                raise InvalidParameter(
                    f"{field_name}.columns",
                    f"column {name!r} of the input example is not in the signature, whose columns are: "
                    f"{_listed(expected)}",
                )
        for name in expected:
            if name not in columns:
                raise InvalidParameter(
                    f"{field_name}.columns",
                    f"column {name!r} of the signature is missing from the input example",
                )
        types = {c.name: c.type for c in signature.inputs}
        for position, name in enumerate(columns):
            for index, row in enumerate(rows):
                if not _fits(row[position], types[name]):
                    raise InvalidParameter(
                        f"{field_name}.{name}",
                        f"column {name!r} holds {printable(row[position])!r} in row {index}, which is not "
                        f"{types[name]} as the signature says",
                    )
    return {"columns": list(columns), "data": rows}


def _fits(value: Any, column_type: str) -> bool:
    """Whether a JSON value may stand in a column of `column_type` (null stands for a missing value)."""
    if value is None:
        return True
    if column_type == "bool":
        return isinstance(value, bool)
    if column_type in ("int32", "int64"):
        return isinstance(value, int) and not isinstance(value, bool)
    if column_type in ("float32", "float64"):
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str)  # string, and datetime in ISO 8601


def _listed(names: list[str], limit: int = 10) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def check_type_names(field_name: str, value: Any) -> tuple[str, ...]:
    """A list of dotted type names (`sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor`)."""
    if not isinstance(value, list | tuple) or len(value) > MAX_NEEDED_TYPES:
        raise InvalidParameter(field_name, f"must be a list of at most {MAX_NEEDED_TYPES} type names")
    names = []
    for index, item in enumerate(value):
        name = check_text(f"{field_name}[{index}]", item, max_length=MAX_TYPE_NAME_LENGTH)
        if _TYPE_NAME.fullmatch(name) is None:
            raise InvalidParameter(
                f"{field_name}[{index}]",
                f"{printable(name)!r} is not a type's dotted name (module.Name, as `needed_types` lists them)",
            )
        names.append(name)
    return tuple(sorted(set(names)))
