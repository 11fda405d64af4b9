"""Every failure of a request as the JSON error body clients parse: one shape, one place, for the
app's exception handlers and for the fast lane alike. No stack trace reaches a client."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from plimsoll.core.errors import PlimsollError
from plimsoll.core.http import json_response

log = logging.getLogger("plimsoll.server")

_HTTP_CODES = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def error_response(exc: Exception) -> Response:
    if isinstance(exc, PlimsollError):
        return json_response(exc.to_dict(), exc.status)
    if isinstance(exc, RequestValidationError):
        return invalid_request(exc.errors())
    if isinstance(exc, StarletteHTTPException):
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return json_response(error_body(code, str(exc.detail)), exc.status_code)
    incident = uuid.uuid4().hex[:12]
    log.exception("unhandled error %s", incident, exc_info=exc)
    message = f"internal error (reference {incident}); the server log has the details"
    return json_response(error_body("INTERNAL", message, {"reference": incident}), 500)


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> Response:
    """A body or query that does not fit its model: 400, naming the first field at fault."""
    problems = []
    for error in errors:
        location = ".".join(
            str(part) for part in error.get("loc", ()) if part not in {"body", "query", "path"}
        )
        problems.append({"field": location, "message": str(error.get("msg", ""))})
    first = problems[0] if problems else {"field": "", "message": "invalid request"}
    message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
    return json_response(
        error_body("INVALID_PARAMETER", message, {"field": first["field"], "problems": problems}), 400
    )
