"""The root of Plimsoll's error tree, with no dependencies but the standard library.

Every layer may import this module, the statistics engine included (`plimsoll.stats` may import
nothing else of Plimsoll), so the classes that layer needs live here: the root `PlimsollError`,
`InvalidParameter`, and the statistics engine's `PlimsollStatsError` with one subclass per
problem. The rest of the tree, and the drawing of all of it, is in `plimsoll.core.errors`, which
re-exports these; import from there.

Every subclass declares its own `code`, and defining it registers it in `ERRORS_BY_CODE` (a
second class with the same code is refused at import), so that `error_from_dict` rebuilds, from a
server's JSON error body, an exception of the very class the server raised.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

__all__ = [
    "ERRORS_BY_CODE",
    "InvalidParameter",
    "PlimsollError",
    "PlimsollStatsError",
    "StatsCorruptSummary",
    "StatsKindMismatch",
    "StatsNotEnoughData",
    "StatsOutOfRange",
    "StatsShapeMismatch",
    "StatsUnknownName",
    "StatsUnreadableValues",
    "error_from_dict",
]

ERRORS_BY_CODE: dict[str, type[PlimsollError]] = {}


class PlimsollError(Exception):
    """Something Plimsoll refused or failed to do; `message` says what, `details` carries data."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            raise TypeError(
                f"{cls.__module__}.{cls.__qualname__} must declare its own `code` (and `status`): "
                "clients tell errors apart by code"
            )
        _register(cls)

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    @classmethod
    def from_wire(cls, message: str, details: dict[str, Any]) -> Self:
        """The exception `to_dict` described, whatever the class's own constructor takes."""
        error = cls.__new__(cls)
        PlimsollError.__init__(error, message, details=details)
        return error

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (to another process, say) the same way, not by calling the constructor again
        # with `args`: `InvalidParameter("f", "m")` has `args == ("f: m",)`.
        return (_from_wire, (type(self), self.message, self.details))


def _from_wire(cls: type[PlimsollError], message: str, details: dict[str, Any]) -> PlimsollError:
    return cls.from_wire(message, details)


def _register(cls: type[PlimsollError]) -> None:
    held = ERRORS_BY_CODE.get(cls.code)
    same_class = held is not None and (held.__module__, held.__qualname__) == (
        cls.__module__,
        cls.__qualname__,
    )
    if held is not None and not same_class:  # the same class again is a module reload
        raise TypeError(
            f"error code {cls.code!r} of {cls.__module__}.{cls.__qualname__} is already "
            f"{held.__module__}.{held.__qualname__}'s; every error class needs a code of its own"
        )
    ERRORS_BY_CODE[cls.code] = cls


_register(PlimsollError)


class InvalidParameter(PlimsollError, ValueError):
    """A bad input; `field` names it (also in `details["field"]`), the message says why."""

    status = 400
    code = "INVALID_PARAMETER"

    def __init__(self, field: str, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{field}: {message}", details={"field": field, **(details or {})})
        self.field = field

    @classmethod
    def from_wire(cls, message: str, details: dict[str, Any]) -> Self:
        error = super().from_wire(message, details)
        error.field = str(details.get("field", ""))
        return error


class PlimsollStatsError(InvalidParameter):
    """Bad input to a statistics function, and the base of its problems below. The message names
    the column or field and the limit it broke; `field` names the parameter, or the column as
    `columns.<name>`; `limit`, where the problem has one, states it (also in `details["limit"]`).
    Still a `ValueError`, as it always was."""

    status = 400
    code = "INVALID_STATISTICS_INPUT"

    def __init__(
        self,
        message: str,
        *,
        field: str,
        limit: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        stated = {"limit": limit} if limit is not None else {}
        PlimsollError.__init__(self, message, details={"field": field, **(details or {}), **stated})
        self.field = field
        self.limit = limit

    @classmethod
    def from_wire(cls, message: str, details: dict[str, Any]) -> Self:
        error = super().from_wire(message, details)
        limit = details.get("limit")
        error.limit = None if limit is None else str(limit)
        return error


class StatsOutOfRange(PlimsollStatsError):
    """A parameter or a value beyond its limit (a level outside (0, 1), a label beyond the classes,
    values whose moments overflow float64)."""

    code = "STATS_OUT_OF_RANGE"


class StatsNotEnoughData(PlimsollStatsError):
    """Too little to compute anything from: no rows, no summaries, no columns, one class."""

    code = "STATS_NOT_ENOUGH_DATA"


class StatsShapeMismatch(PlimsollStatsError):
    """Inputs that do not line up: row counts, dimensions, score columns, column sets."""

    code = "STATS_SHAPE_MISMATCH"


class StatsKindMismatch(PlimsollStatsError):
    """Numbers where labels were expected or the other way round (against a reference, in a merge,
    for a method)."""

    code = "STATS_KIND_MISMATCH"


class StatsUnreadableValues(PlimsollStatsError):
    """Values the engine cannot read as numbers or labels: mixed types, an unsupported container or
    type, scores that are not finite numbers."""

    code = "STATS_UNREADABLE_VALUES"


class StatsUnknownName(PlimsollStatsError):
    """A column, method or correction that does not exist; `details["choices"]` lists those that do."""

    code = "STATS_UNKNOWN_NAME"


class StatsCorruptSummary(PlimsollStatsError):
    """Summary bytes that are not a summary this Plimsoll reads (magic, version, payload)."""

    code = "STATS_CORRUPT_SUMMARY"


def error_from_dict(body: dict[str, Any], status: int) -> PlimsollError:
    """Rebuild the exception a server raised from its JSON error body: the same class, code,
    message and details. A code this client does not know (a newer server's) becomes the
    registered class of the nearest ancestor by HTTP status, else the root."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return PlimsollError(f"server answered {status} without an error body", details={"status": status})
    code = str(error.get("code"))
    cls = ERRORS_BY_CODE.get(code) or _by_status(status)
    message = str(error.get("message", ""))
    details = error.get("details")
    return cls.from_wire(message, details if isinstance(details, dict) else {})


def _by_status(status: int) -> type[PlimsollError]:
    """The first class registered for `status` (the tree's own, before any more specific ones)."""
    for cls in ERRORS_BY_CODE.values():
        if cls.status == status:
            return cls
    return PlimsollError
