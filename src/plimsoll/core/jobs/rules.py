"""Checks on what users hand the job engine, and the row a new job starts as. Each failure names
the field and the limit."""

from __future__ import annotations

from typing import Any

import orjson

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import is_id, new_id
from plimsoll.core.jobs import store
from plimsoll.core.jobs.entities import JobState
from plimsoll.core.jobs.registry import HandlerSpec

MAX_PAYLOAD_BYTES = 1024 * 1024
MAX_ATTEMPTS_LIMIT = 100
MAX_TIMEOUT_S = 7 * 24 * 3600.0
MAX_DELAY_S = 366 * 24 * 3600.0
MAX_KEY_LENGTH = 256
MAX_CONCURRENCY_LIMIT = 10_000
MAX_ERROR_LENGTH = 8000
MAX_PAGE_SIZE = 1000


def new_job_values(
    spec: HandlerSpec,
    payload: Any,
    now: int,
    *,
    delay_s: float = 0.0,
    max_attempts: int | None = None,
    timeout_s: float | None = None,
    concurrency_key: str | None = None,
    concurrency_limit: int | None = None,
    dedupe_key: str | None = None,
) -> dict[str, Any]:
    """The row of a new queued job; the kind's defaults fill what the caller left out."""
    attempts = spec.max_attempts if max_attempts is None else max_attempts
    check_range("max_attempts", attempts, 1, MAX_ATTEMPTS_LIMIT)
    timeout = spec.timeout_s if timeout_s is None else timeout_s
    check_range("timeout_s", timeout, 0.001, MAX_TIMEOUT_S)
    check_range("delay_s", delay_s, 0, MAX_DELAY_S)
    if concurrency_key is None and spec.concurrency is not None:
        concurrency_key = f"kind:{spec.kind}"
    if concurrency_key is not None:
        check_length("concurrency_key", concurrency_key)
        concurrency_limit = concurrency_limit or spec.concurrency or 1
        check_range("concurrency_limit", concurrency_limit, 1, MAX_CONCURRENCY_LIMIT)
    elif concurrency_limit is not None:
        raise InvalidParameter("concurrency_limit", "needs a concurrency_key to limit")
    if dedupe_key is not None:
        check_length("dedupe_key", dedupe_key)
    return {
        "id": new_id(),
        "kind": spec.kind,
        "payload": encode_payload(payload),
        "state": JobState.QUEUED.value,
        "attempts": 0,
        "max_attempts": attempts,
        "run_after": now + int(delay_s * 1000),
        "timeout_ms": int(timeout * 1000),
        "concurrency_key": concurrency_key,
        "concurrency_limit": concurrency_limit,
        "dedupe_key": dedupe_key,
        "cancel_requested": False,
        "created_at": now,
    }


def encode_payload(payload: Any) -> str:
    try:
        encoded = store.dump_json(payload)
    except (TypeError, orjson.JSONEncodeError) as exc:
        raise InvalidParameter("payload", f"must be JSON: {exc}") from None
    if len(encoded) > MAX_PAYLOAD_BYTES:
        raise InvalidParameter(
            "payload", f"is {len(encoded)} bytes as JSON; the limit is {MAX_PAYLOAD_BYTES}"
        )
    return encoded


def encode_result(result: Any) -> str | None:
    """A handler's return as JSON; one that is not JSON is kept as its repr, not lost."""
    try:
        return None if result is None else store.dump_json(result)
    except (TypeError, orjson.JSONEncodeError):
        return store.dump_json({"unserialisable_result": repr(result)[:MAX_ERROR_LENGTH]})


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not is_id(job_id):
        raise InvalidParameter("job_id", f"must be 32 hex digits, got {job_id!r}")
    return job_id


def parse_state(state: JobState | str) -> str:
    try:
        return JobState(state).value
    except ValueError:
        raise InvalidParameter(
            "states", f"must be among {[s.value for s in JobState]}, got {state!r}"
        ) from None


def check_range(field: str, value: float, minimum: float, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not minimum <= value <= maximum:
        raise InvalidParameter(field, f"must be between {minimum} and {maximum}, got {value!r}")


def check_length(field: str, value: str) -> None:
    if not isinstance(value, str) or not value or len(value) > MAX_KEY_LENGTH:
        raise InvalidParameter(field, f"must be a string of 1 to {MAX_KEY_LENGTH} characters")
