"""One error tree for the whole product.

    PlimsollError                    500  INTERNAL
    ├── InvalidParameter             400  INVALID_PARAMETER         (also ValueError; has `field`)
    │   ├── PlimsollStatsError       400  INVALID_STATISTICS_INPUT  (the statistics engine's; `limit`)
    │   │   ├── StatsOutOfRange          STATS_OUT_OF_RANGE         (a parameter or value beyond its limit)
    │   │   ├── StatsNotEnoughData       STATS_NOT_ENOUGH_DATA      (no rows, summaries, columns; one class)
    │   │   ├── StatsShapeMismatch       STATS_SHAPE_MISMATCH       (rows, dimensions, column sets differ)
    │   │   ├── StatsKindMismatch        STATS_KIND_MISMATCH        (numbers against labels)
    │   │   ├── StatsUnreadableValues    STATS_UNREADABLE_VALUES    (mixed or unsupported types, NaN scores)
    │   │   ├── StatsUnknownName         STATS_UNKNOWN_NAME         (column, method, correction; `choices`)
    │   │   └── StatsCorruptSummary      STATS_CORRUPT_SUMMARY      (summary bytes it cannot read)
    │   └── PayloadTooLarge          413  PAYLOAD_TOO_LARGE
    ├── Unauthenticated              401  UNAUTHENTICATED
    │   └── OidcRefused              401  OIDC_REFUSED              (a sign-in answer failed a check; details.reason)
    ├── PermissionDenied             403  PERMISSION_DENIED
    ├── NotFound                     404  NOT_FOUND                 (also LookupError)
    │   └── BlobNotFound             404  BLOB_NOT_FOUND
    ├── MethodNotAllowed             405  METHOD_NOT_ALLOWED
    ├── Conflict                     409  CONFLICT
    ├── MisdirectedRequest           421  MISDIRECTED_REQUEST       (a Host the server does not answer to)
    ├── GateFailed                   422  GATE_FAILED
    ├── TooManyRequests              429  TOO_MANY_REQUESTS         (`details.retry_after`: seconds)
    ├── BlobCorrupted                500  BLOB_CORRUPTED
    └── Unavailable                  503  UNAVAILABLE
        └── OidcUnavailable          503  OIDC_UNAVAILABLE          (the OpenID provider did not answer)

Services raise these; the HTTP layer (`plimsoll.server.errors`) turns them, and the errors of
FastAPI and Starlette themselves (unknown route 404, wrong method 405, body over the limit 413,
request validation 400), into `{"error": {"code", "message", "details"}}` with the status above,
and the HTTP client raises the same class again from that body (`error_from_dict`), so callers see
the same exception embedded or remote.

The root, `InvalidParameter` and the statistics engine's errors are defined in the dependency-free
`plimsoll.errors` (the statistics engine may import nothing else of Plimsoll) and re-exported here.
Each class declares its own code, and defining a class registers its code in `ERRORS_BY_CODE`; a
code used twice is refused at import. Every class lives in this module or in `plimsoll.errors`.
"""

from __future__ import annotations

from plimsoll.errors import (
    ERRORS_BY_CODE,
    InvalidParameter,
    PlimsollError,
    PlimsollStatsError,
    StatsCorruptSummary,
    StatsKindMismatch,
    StatsNotEnoughData,
    StatsOutOfRange,
    StatsShapeMismatch,
    StatsUnknownName,
    StatsUnreadableValues,
    error_from_dict,
)

__all__ = [
    "ERRORS_BY_CODE",
    "BlobCorrupted",
    "BlobNotFound",
    "Conflict",
    "GateFailed",
    "InvalidParameter",
    "MethodNotAllowed",
    "MisdirectedRequest",
    "NotFound",
    "OidcRefused",
    "OidcUnavailable",
    "PayloadTooLarge",
    "PermissionDenied",
    "PlimsollError",
    "PlimsollStatsError",
    "StatsCorruptSummary",
    "StatsKindMismatch",
    "StatsNotEnoughData",
    "StatsOutOfRange",
    "StatsShapeMismatch",
    "StatsUnknownName",
    "StatsUnreadableValues",
    "TooManyRequests",
    "Unauthenticated",
    "Unavailable",
    "error_from_dict",
]


class PayloadTooLarge(InvalidParameter):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class Unauthenticated(PlimsollError):
    status = 401
    code = "UNAUTHENTICATED"


class OidcRefused(Unauthenticated):
    """An answer of the OpenID provider (or a browser's callback) failed one of the sign-in checks;
    `details["reason"]` names which: state, nonce, signature, issuer, audience, expired, ..."""

    status = 401
    code = "OIDC_REFUSED"

    @property
    def reason(self) -> str:
        return str(self.details.get("reason", ""))


class PermissionDenied(PlimsollError):
    status = 403
    code = "PERMISSION_DENIED"


class NotFound(PlimsollError, LookupError):
    status = 404
    code = "NOT_FOUND"


class BlobNotFound(NotFound):
    """No blob is stored under this digest."""

    status = 404
    code = "BLOB_NOT_FOUND"


class MethodNotAllowed(PlimsollError):
    """The route exists, but not with this HTTP method."""

    status = 405
    code = "METHOD_NOT_ALLOWED"


class Conflict(PlimsollError):
    status = 409
    code = "CONFLICT"


class MisdirectedRequest(PlimsollError):
    """The request names a host (its `Host` header) this server was not started for."""

    status = 421
    code = "MISDIRECTED_REQUEST"


class GateFailed(PlimsollError):
    status = 422
    code = "GATE_FAILED"


class TooManyRequests(PlimsollError):
    """Refused for now; `details["retry_after"]` says in how many seconds to try again."""

    status = 429
    code = "TOO_MANY_REQUESTS"


class BlobCorrupted(PlimsollError):
    """The stored bytes no longer hash to the digest they are stored under."""

    status = 500
    code = "BLOB_CORRUPTED"


class Unavailable(PlimsollError):
    status = 503
    code = "UNAVAILABLE"


class OidcUnavailable(Unavailable):
    """The OpenID provider (discovery, keys or token endpoint) could not be reached or answered
    with a server error; the message names its issuer."""

    status = 503
    code = "OIDC_UNAVAILABLE"
