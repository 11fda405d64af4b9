"""One error tree for the whole product.

    PlimsollError                 status 500, code INTERNAL
    ├── InvalidParameter          400  INVALID_PARAMETER   (also ValueError)
    ├── Unauthenticated           401  UNAUTHENTICATED
    ├── PermissionDenied          403  PERMISSION_DENIED
    ├── NotFound                  404  NOT_FOUND           (also LookupError)
    ├── Conflict                  409  CONFLICT
    ├── PayloadTooLarge           413  PAYLOAD_TOO_LARGE   (also InvalidParameter)
    ├── GateFailed                422  GATE_FAILED
    └── Unavailable               503  UNAVAILABLE

Services raise these; the HTTP layer turns them into `{"error": {"code", "message", "details"}}`
with the status below, and the HTTP client raises the same class again from that body, so callers
see the same exception embedded or remote.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PlimsollError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidParameter(PlimsollError, ValueError):
    status = 400
    code = "INVALID_PARAMETER"

    def __init__(self, field: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{field}: {message}", details={"field": field, **(details or {})})
        self.field = field


class PayloadTooLarge(InvalidParameter):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class Unauthenticated(PlimsollError):
    status = 401
    code = "UNAUTHENTICATED"


class PermissionDenied(PlimsollError):
    status = 403
    code = "PERMISSION_DENIED"


class NotFound(PlimsollError, LookupError):
    status = 404
    code = "NOT_FOUND"


class Conflict(PlimsollError):
    status = 409
    code = "CONFLICT"


class GateFailed(PlimsollError):
    status = 422
    code = "GATE_FAILED"


class Unavailable(PlimsollError):
    status = 503
    code = "UNAVAILABLE"


ERRORS_BY_CODE: dict[str, type[PlimsollError]] = {
    cls.code: cls
    for cls in (
        PlimsollError,
        InvalidParameter,
        PayloadTooLarge,
        Unauthenticated,
        PermissionDenied,
        NotFound,
        Conflict,
        GateFailed,
        Unavailable,
    )
}


def error_from_dict(body: dict[str, Any], status: int) -> PlimsollError:
    """Rebuild the exception a server raised from its JSON error body."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return PlimsollError(f"server answered {status} without an error body")
    cls = ERRORS_BY_CODE.get(str(error.get("code")), PlimsollError)
    message = str(error.get("message", ""))
    details = error.get("details") or {}
    exc: PlimsollError
    if issubclass(cls, InvalidParameter):
        field = str(details.get("field", ""))
        prefix = f"{field}: "
        exc = cls(field, message[len(prefix) :] if message.startswith(prefix) else message, details=details)
    else:
        exc = cls(message, details=details)
    return exc
