"""The event catalog: every event type the platform may publish, its meaning and payload schema.

Capabilities register their types into the one `EventCatalog` the platform builds; `Outbox.append`
refuses a type the catalog does not know and validates each payload against the type's schema, so
a consumer can rely on what it reads. Names are `noun.verb` in lower case, the verb in the past
tense (`thing.created`, `thing.stage_changed`): an event states what happened, not a command.

A payload schema is a pydantic model (preferred) or a JSON schema in a small subset (`type`,
`properties`, `required`, `additionalProperties`, `items`, `enum`, `description`, `title`,
`format`, `default`); a schema using any other keyword is refused at registration, so nothing is
ever silently left unvalidated.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from plimsoll.core.errors import Conflict, InvalidParameter, NotFound

NAME_PATTERN = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
IRREGULAR_PAST = frozenset(
    (
        *("begun", "bought", "brought", "built", "caught", "done", "drawn", "found", "given", "held"),
        *("kept", "laid", "left", "lost", "made", "met", "paid", "put", "read", "reset", "rebuilt"),
        *("sent", "set", "shut", "sold", "spent", "split", "taken", "thrown", "told", "undone"),
        *("won", "withdrawn", "written"),
    )
)
_SUPPORTED_KEYWORDS = frozenset(
    {"type", "properties", "required", "additionalProperties", "items", "enum", "description"}
    | {"title", "format", "default"}
)
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def check_event_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name) or len(name) > 128:
        raise InvalidParameter("name", f"{name!r} is not a lower-case `noun.verb` event name")
    # The verb is one of the words after the dot: `version_registered`, `rolled_back`.
    words = name.split(".", 1)[1].split("_")
    if not any(word.endswith("ed") or word in IRREGULAR_PAST for word in words):
        raise InvalidParameter("name", f"{name!r}: the verb must be in the past tense (`thing.created`)")
    return name


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    payload: type[BaseModel] | Mapping[str, Any]

    def json_schema(self) -> dict[str, Any]:
        if isinstance(self.payload, type):
            return self.payload.model_json_schema()
        return dict(self.payload)

    def validate(self, payload: Mapping[str, Any] | BaseModel, field: str = "payload") -> dict[str, Any]:
        """The payload as JSON-ready data; InvalidParameter naming the first bad field, under
        `field`."""
        if isinstance(self.payload, type):
            model = self.payload
            if isinstance(payload, BaseModel) and not isinstance(payload, model):
                payload = payload.model_dump(mode="json")
            try:
                valid = payload if isinstance(payload, model) else model.model_validate(payload)
            except ValidationError as exc:
                error = exc.errors()[0]
                where = ".".join(str(part) for part in error["loc"])
                raise InvalidParameter(f"{field}.{where}" if where else field, error["msg"]) from exc
            return valid.model_dump(mode="json")
        data = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else dict(payload)
        _check(self.payload, data, field)
        return data


def _check_schema(schema: Any, where: str) -> None:
    if not isinstance(schema, Mapping):
        raise InvalidParameter("payload", f"schema at {where} must be an object")
    unknown = set(schema) - _SUPPORTED_KEYWORDS
    if unknown:
        raise InvalidParameter("payload", f"schema at {where} uses unsupported keywords {sorted(unknown)}")
    types = schema.get("type", [])
    for name in [types] if isinstance(types, str) else types:
        if name not in _JSON_TYPES:
            raise InvalidParameter("payload", f"schema at {where}: unknown type {name!r}")
    for key, sub in schema.get("properties", {}).items():
        _check_schema(sub, f"{where}.{key}")
    if "items" in schema:
        _check_schema(schema["items"], f"{where}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        _check_schema(schema["additionalProperties"], f"{where}.*")


def _check(schema: Mapping[str, Any], value: Any, where: str) -> None:
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        ok = any(
            isinstance(value, _JSON_TYPES[name])
            and not (name in {"integer", "number"} and isinstance(value, bool))
            for name in names
        )
        if not ok:
            raise InvalidParameter(where, f"must be of type {' or '.join(names)}")
    if "enum" in schema and value not in schema["enum"]:
        raise InvalidParameter(where, f"must be one of {schema['enum']}")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                raise InvalidParameter(f"{where}.{key}", "is required")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _check(properties[key], item, f"{where}.{key}")
            elif extra is False:
                raise InvalidParameter(f"{where}.{key}", "is not an allowed field")
            elif isinstance(extra, Mapping):
                _check(extra, item, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for index, item in enumerate(value):
            _check(schema["items"], item, f"{where}[{index}]")


class EventCatalog:
    """A registry of event types; thread-safe. `register` is idempotent for an identical type."""

    def __init__(self) -> None:
        self._types: dict[str, EventType] = {}
        self._lock = threading.Lock()

    def register(self, *types: EventType) -> None:
        for event_type in types:
            check_event_name(event_type.name)
            if not isinstance(event_type.payload, type):
                _check_schema(event_type.payload, "payload")
            elif not issubclass(event_type.payload, BaseModel):
                raise InvalidParameter("payload", "must be a pydantic model or a JSON schema")
            schema = json.dumps(event_type.json_schema(), sort_keys=True)
            with self._lock:
                known = self._types.get(event_type.name)
                if known is not None and json.dumps(known.json_schema(), sort_keys=True) != schema:
                    raise Conflict(
                        f"event type {event_type.name!r} is registered already with another payload schema",
                        details={"type": event_type.name},
                    )
                if known is None:
                    self._types[event_type.name] = event_type

    def get(self, name: str) -> EventType:
        with self._lock:
            event_type = self._types.get(name)
        if event_type is None:
            raise NotFound(f"event type {name!r} is not registered", details={"type": name})
        return event_type

    def require(self, name: str, field: str = "type") -> EventType:
        """As `get`, but an unknown name in a request is the caller's mistake: InvalidParameter."""
        with self._lock:
            event_type = self._types.get(name)
        if event_type is None:
            raise InvalidParameter(field, f"{name!r} is not a registered event type")
        return event_type

    def __contains__(self, name: object) -> bool:
        with self._lock:
            return name in self._types

    def list(self) -> list[dict[str, Any]]:
        """Every type with its description and payload JSON schema, by name."""
        with self._lock:
            types = sorted(self._types.values(), key=lambda t: t.name)
        return [{"name": t.name, "description": t.description, "payload": t.json_schema()} for t in types]
