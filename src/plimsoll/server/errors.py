"""Every failure of a request as the JSON error body clients parse: one shape, one place, for the
app's exception handlers and for the fast lane alike. No stack trace reaches a client.

Every body carries the code of a class of the error tree (`plimsoll.core.errors`), FastAPI's and
Starlette's own errors included (unknown route, wrong method, body over the limit, a body that does
not parse or fit its model), so that the HTTP client raises that class again."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plimsoll.core.errors import (
    Conflict,
    InvalidParameter,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    PlimsollError,
    Unauthenticated,
    Unavailable,
)
from plimsoll.core.http import body_error, error_headers, json_response

log = logging.getLogger("plimsoll.server")

_BY_STATUS: dict[int, type[PlimsollError]] = {
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    503: Unavailable,
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(exc: Exception) -> Response:
    if isinstance(exc, PlimsollError):
        response = json_response(exc.to_dict(), exc.status)
        response.headers.update(error_headers(exc))
        return response
    if isinstance(exc, RequestValidationError):
        return invalid_request(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "There was an error parsing the body": say which way it failed.
            return json_response(body_error(exc.__cause__).to_dict(), 400)
        response = json_response(http_error(exc.status_code, str(exc.detail)).to_dict(), exc.status_code)
        response.headers.update(exc.headers or {})  # a 405's Allow, say
        return response
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s", incident, exc_info=exc)
    message = f"internal error (reference {incident}); the server log has the details"
    return json_response(error_body("INTERNAL", message, {"reference": incident}), 500)


def http_error(status: int, detail: str) -> PlimsollError:
    """The error of the tree a Starlette or FastAPI `HTTPException` stands for."""
    if status == 413:  # the body limit's: "body: over the limit of N bytes"
        return PayloadTooLarge("body", detail.removeprefix("body: "))
    if status == 400:  # FastAPI's "There was an error parsing the body"
        return InvalidParameter("body", detail)
    cls = _BY_STATUS.get(status)
    if cls is not None:
        return cls(detail)
    if 400 <= status < 500:
        return InvalidParameter("request", detail, details={"status": status})
    return PlimsollError(detail, details={"status": status})


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> Response:
    """A body or query that does not fit its model: 400, naming the first field at fault."""
    problems = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        # ("body", "runs", 0, "run_id") names runs.0.run_id; a missing body is ("body",): "body"
        location = ".".join(part for part in loc if part not in {"body", "query", "path"})
        location = location or (loc[0] if loc else "body")
        if error.get("type") == "json_invalid":  # its loc is ("body", <offset of the fault>)
            location = "body"
        problems.append({"field": location, "message": str(error.get("msg", ""))})
    first = problems[0] if problems else {"field": "body", "message": "invalid request"}
    refusal = InvalidParameter(first["field"], first["message"], details={"problems": problems})
    return json_response(refusal.to_dict(), refusal.status)
