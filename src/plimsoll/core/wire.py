"""Types for the routes' request models and parameters that declare, in the OpenAPI document, the
limits the services enforce: `run_id: Id`, `tags: dict[Key, TagValue]`, `view: ... one_of(VIEWS)`.

They describe and never validate: the services check every value (`core.validation`, `core.ids`),
with messages that name the field and the limit, embedded and over HTTP alike. The constants and
patterns here are the ones those checks use, so the two cannot drift apart; the OpenAPI contract
test (tests/server/test_openapi_contract.py) sends what the document allows and what it forbids
to a live server, and fails on any difference that remains.

JSON types are taken as the document states them (pydantic would otherwise take `"4"` or `true`
for an integer and `0` for a boolean): `JsonInt`, `Flag` and `MetricValue` refuse those.

A limit that depends on the platform (the registered event types, say) is a `vocabulary`: the
server fills in its values when it writes the document (`server.openapi`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import BeforeValidator, GetJsonSchemaHandler, Strict
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from plimsoll.core.ids import ID_OR_SHORT_ID_PATTERN, ID_PATTERN
from plimsoll.core.validation import (
    ARTIFACT_PATH_PATTERN,
    ARTIFACT_PREFIX_PATTERN,
    INT64_MAX,
    INT64_MIN,
    KEY_PATTERN,
    MAX_ARTIFACT_PATH_LENGTH,
    MAX_DESCRIPTION_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    NAME_PATTERN,
    NON_FINITE,
    TEXT_PATTERN,
)

# The schema keyword that `server.openapi` replaces with `enum` and the vocabulary's values.
VOCABULARY_KEYWORD = "x-plimsoll-vocabulary"


class Documented:
    """JSON Schema keywords (spelled as JSON Schema spells them: `maxLength`) added to the schema
    of the type it annotates, in a pydantic model or a FastAPI parameter alike."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.update(self.keywords)
        return schema

    def __repr__(self) -> str:
        return f"Documented({self.keywords!r})"


def name_rules(max_length: int = MAX_NAME_LENGTH) -> Documented:
    """`core.validation.check_name` with that limit."""
    return Documented(minLength=1, maxLength=max_length, pattern=NAME_PATTERN)


def text_rules(max_length: int) -> Documented:
    """`core.validation.check_text` with that limit."""
    return Documented(maxLength=max_length, pattern=TEXT_PATTERN)


def one_of(values: Iterable[str]) -> Documented:
    return Documented(enum=[str(value) for value in values])


def between(minimum: int, maximum: int) -> Documented:
    return Documented(minimum=minimum, maximum=maximum)


def vocabulary(name: str) -> Documented:
    """One of the platform's values named `name` (see `server.openapi.VOCABULARIES`)."""
    return Documented(**{VOCABULARY_KEYWORD: name})


def keyed(values: Documented) -> Documented:
    """A JSON object whose keys are `Key`s and whose values are strings with these rules (pydantic
    would write a key pattern as `patternProperties`, which lets any other key through)."""
    return Documented(
        propertyNames={"type": "string", **KEY_RULES.keywords},
        additionalProperties={"type": "string", **values.keywords},
    )


KEY_RULES = Documented(minLength=1, maxLength=MAX_KEY_LENGTH, pattern=KEY_PATTERN)


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError(f"must be an integer, got {type(value).__name__}")
    return value  # and pydantic takes 3 and 3.0, refuses 3.5


JsonInt = Annotated[int, BeforeValidator(_json_integer)]
Flag = Annotated[bool, Strict()]
Id = Annotated[str, Documented(pattern=ID_PATTERN)]
IdOrShortId = Annotated[str, Documented(pattern=ID_OR_SHORT_ID_PATTERN)]
Name = Annotated[str, name_rules()]
Key = Annotated[str, KEY_RULES]
Params = Annotated[dict[str, str], keyed(text_rules(MAX_PARAM_VALUE_LENGTH))]
Tags = Annotated[dict[str, str], keyed(text_rules(MAX_TAG_VALUE_LENGTH))]
Description = Annotated[str, text_rules(MAX_DESCRIPTION_LENGTH)]
ArtifactPath = Annotated[
    str, Documented(minLength=1, maxLength=MAX_ARTIFACT_PATH_LENGTH, pattern=ARTIFACT_PATH_PATTERN)
]
ArtifactPrefix = Annotated[
    str, Documented(maxLength=MAX_ARTIFACT_PATH_LENGTH, pattern=ARTIFACT_PREFIX_PATTERN)
]
Int64 = Annotated[JsonInt, between(INT64_MIN, INT64_MAX)]
EpochMs = Annotated[JsonInt, between(0, INT64_MAX)]  # a time: milliseconds since 1970, never negative
# A metric value: any number, or one of the strings JSON needs for the values it cannot carry.
# Strict: a JSON number (an integer too), never `true`; in Rust, not a Python call per value.
MetricValue = Annotated[float, Strict()] | Annotated[str, one_of(NON_FINITE)]

# The vocabularies the server fills in (`server.openapi`): the registered event types, and the
# patterns a webhook subscribes with (a type, `noun.*`, or `*`).
EVENT_TYPES = "event-types"
EVENT_PATTERNS = "event-patterns"
EventType = Annotated[str, vocabulary(EVENT_TYPES)]
EventPattern = Annotated[str, vocabulary(EVENT_PATTERNS)]
