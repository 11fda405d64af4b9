"""The OpenAPI document, told true: what FastAPI writes from the routes, completed by the errors
every route can answer, which no route has to declare by hand.

FastAPI documents each route's success and a 422 "Validation Error" it never sends (a request that
does not fit its model is a 400, see `server.errors`). `install` replaces the 422 and adds, from
what the server knows of each operation:

| status | when | from |
| --- | --- | --- |
| 400 | the operation takes parameters or a body | a value the service refuses, a body that is not JSON |
| 401, 403 | auth is on and the route's permission row is not public | the auth guard |
| 404 | a path parameter names a record, or the row's scope finds a project | services, resolvers |
| 409 | the operation writes (an unsafe method, a row that needs more than viewer) | services, `Database.write` |
| 413 | the operation takes a body | the body limits |

each with the error body's schema (`{"error": {"code", "message", "details"}}`, the codes those of
`plimsoll.core.errors`), the bearer token as the security scheme of every guarded operation, and
the values of the platform's vocabularies (`core.wire.vocabulary`). A route declares any other
answer itself (`responses=` on its decorator; an error response given without content gets the
error body). New routes are described the same way by being routes: nothing to register.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.permissions import PUBLIC, PermissionTable
from plimsoll.core.errors import ERRORS_BY_CODE
from plimsoll.core.wire import VOCABULARY_KEYWORD

ERROR_SCHEMA = "Error"
SECURITY_SCHEME = "bearer"
_UNSAFE = frozenset({"post", "put", "patch", "delete"})
_CONVERTER = re.compile(r"\{(\w+):\w+\}")
_PARAMETER = re.compile(r"\{([^}]+)\}")

_WHY: dict[int, str] = {
    400: "Bad input: `details.field` names the field at fault, the message the limit it broke",
    401: "No token, or a token that is unknown, expired or revoked",
    403: "The caller's roles do not allow this",
    404: "A record or project named by the request does not exist",
    409: "The change conflicts with the state of a record (or with a change made at the same time)",
    413: "The body is over the server's limit (`details.limit`, in bytes)",
}


def install(
    app: FastAPI,
    *,
    table: PermissionTable,
    auth: bool,
    vocabularies: Mapping[str, Sequence[str]],
) -> None:
    """Make `app.openapi()` return the completed document (built once, on first use)."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if getattr(app.state, "openapi_described", None) is None:
            app.state.openapi_described = describe(
                generate(), table=table, auth=auth, vocabularies=vocabularies
            )
        described: dict[str, Any] = app.state.openapi_described
        return described

    app.openapi = openapi  # type: ignore[method-assign]


def describe(
    document: dict[str, Any],
    *,
    table: PermissionTable,
    auth: bool,
    vocabularies: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas[ERROR_SCHEMA] = error_schema()
    if auth:
        components["securitySchemes"] = {
            SECURITY_SCHEME: {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (`plimsoll tokens create`): `Authorization: Bearer plm_...`",
            }
        }
    for path, methods in document.get("paths", {}).items():
        for method, operation in methods.items():
            _describe_operation(path, method, operation, table=table, auth=auth)
    document["paths"] = _merge_same_templates(document.get("paths", {}))
    _fill_vocabularies(document, vocabularies)
    return document


def error_schema() -> dict[str, Any]:
    return {
        "title": "Error",
        "description": "Every refusal and failure: the code says which (`plimsoll.core.errors`), "
        "the message says why, `details` carries data such as the field at fault.",
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(ERRORS_BY_CODE)},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    }


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}}},
    }


def _describe_operation(
    path: str, method: str, operation: dict[str, Any], *, table: PermissionTable, auth: bool
) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    validation = responses.get("422", {})
    if "HTTPValidationError" in str(validation.get("content", "")):
        del responses["422"]
    row = table.entry_for(method.upper(), path)
    if row is None:  # FastAPI writes `{key}` where the route (and its row) says `{key:path}`
        row = next(
            (
                e
                for (m, p), e in table.entries.items()
                if m == method.upper() and _CONVERTER.sub(r"{\1}", p) == path
            ),
            None,
        )
    guarded = auth and (row is None or row.rule.scope is not PUBLIC)
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses: list[int] = []
    if parameters or has_body:
        statuses.append(400)
    if guarded:
        statuses += [401, 403]
        operation["security"] = [{SECURITY_SCHEME: []}]
    elif auth:
        operation["security"] = []
    if any(p.get("in") == "path" for p in parameters) or (row is not None and row.rule.scope.has_project):
        statuses.append(404)
    if method in _UNSAFE and not (row is not None and row.rule.role is Role.VIEWER):
        statuses.append(409)
    if has_body:
        statuses.append(413)
    for status in statuses:
        responses.setdefault(str(status), _error_response(_WHY[status]))
    for code, response in responses.items():
        if code[:1] in {"4", "5"}:
            content = response.setdefault("content", {})
            schema = content.setdefault("application/json", {}).get("schema")
            if not schema:
                content["application/json"]["schema"] = {"$ref": f"#/components/schemas/{ERROR_SCHEMA}"}


def _merge_same_templates(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """One path for templates that differ only in their parameters' names (OpenAPI forbids two;
    `GET /experiments/{experiment_ref}` takes an id or a name where `DELETE` takes an id): the
    later operations move under the first template, their path parameters renamed to its names."""
    merged: dict[str, dict[str, Any]] = {}
    first: dict[str, str] = {}
    for path, methods in paths.items():
        shape = _PARAMETER.sub("{}", path)
        target = first.setdefault(shape, path)
        if target != path:
            names = dict(zip(_PARAMETER.findall(path), _PARAMETER.findall(target), strict=True))
            for operation in methods.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") == "path":
                        parameter["name"] = names[parameter["name"]]
        merged.setdefault(target, {}).update(methods)
    return merged


def _fill_vocabularies(node: Any, vocabularies: Mapping[str, Sequence[str]]) -> None:
    for item in _walk(node):
        name = item.pop(VOCABULARY_KEYWORD, None)
        if name is not None:
            item["enum"] = list(vocabularies[name])


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in list(node.values()):
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)
