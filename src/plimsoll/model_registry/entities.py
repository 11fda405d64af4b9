"""The registry's records and the rules that need no storage: model and alias names, references
(`NAME/VERSION`, `NAME@ALIAS`, `NAME`), owners, the digest of a version's artifact."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any, TypeVar

from blake3 import blake3

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_name, check_text, printable

MAX_MODEL_NAME_LENGTH = 200
MAX_VERSION = 2**53  # as the API admits (a JSON number)
MAX_REASON_LENGTH = 2000
MAX_DESCRIPTION_LENGTH = 20_000
# Who answers for a model at each stage: alerts and incidents are routed to them.
OWNER_ROLES: tuple[str, ...] = ("training", "deployment", "monitoring", "incident_response")
# An alias reads like a word, never like a number: `NAME@2` would be ambiguous with a version.
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,62}$"
_ALIAS = re.compile(ALIAS_PATTERN)
_RESERVED = re.compile(r"[@/:]")
VERSION_PATTERN = r"^(?:latest|[1-9][0-9]{0,15})$"
ALIAS_ACTIONS: tuple[str, ...] = ("set", "rollback", "removed", "promote")
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

    @property
    def ref(self) -> str:
        return f"{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


@dataclass(frozen=True, slots=True)
class Alias(_Wire):
    name: str
    version: int
    protected: bool
    moved_by: str
    moved_at: int


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


def check_model_name(field_name: str, value: Any) -> str:
    """A project-style name without '@', '/' or ':': `NAME/VERSION` and `NAME@ALIAS` read one way."""
    text = check_name(field_name, value, max_length=MAX_MODEL_NAME_LENGTH)
    found = _RESERVED.search(text)
    if found is not None:
        raise InvalidParameter(
            field_name,
            f"must not contain '@', '/' or ':' (they separate a name from its version or alias); "
            f"got {found.group(0)!r} at position {found.start()} in {text!r}",
        )
    return text


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
