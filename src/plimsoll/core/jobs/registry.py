"""Handlers by kind. A handler is `handler(payload, context) -> result` (result JSON or None),
given as a callable or as a dotted path "package.module:function". CPU-bound kinds must be given
by dotted path: they run in a child process, which imports the handler itself.

Per-kind defaults (attempts, timeout, backoff, concurrency) apply to jobs enqueued without their
own values.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from plimsoll.core.errors import InvalidParameter

Handler = Callable[[Any, Any], Any]

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_TIMEOUT_S = 3600.0
DEFAULT_BACKOFF_BASE_S = 2.0
DEFAULT_BACKOFF_MAX_S = 600.0
MAX_KIND_LENGTH = 128


@dataclass(frozen=True)
class HandlerSpec:
    kind: str
    handler: Handler | str
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    timeout_s: float = DEFAULT_TIMEOUT_S
    backoff_base_s: float = DEFAULT_BACKOFF_BASE_S  # first retry after about this long, then doubling
    backoff_max_s: float = DEFAULT_BACKOFF_MAX_S
    # Jobs of this kind enqueued without a key share the key "kind:<kind>" with this limit, so
    # `concurrency=1` means one at a time across every worker.
    concurrency: int | None = None
    cpu_bound: bool = False  # run in a child process, never on the worker's threads

    def resolve(self) -> Handler:
        return resolve_handler(self.handler)


def resolve_handler(handler: Handler | str) -> Handler:
    if callable(handler):
        return handler
    module_name, _, attribute = handler.partition(":")
    if not module_name or not attribute:
        raise InvalidParameter("handler", f"{handler!r} is not a dotted path 'package.module:function'")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        target = getattr(target, part)
    if not callable(target):
        raise InvalidParameter("handler", f"{handler!r} is not callable")
    return target  # type: ignore[no-any-return]


class HandlerRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, HandlerSpec] = {}

    def register(
        self,
        kind: str,
        handler: Handler | str,
        *,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        backoff_base_s: float = DEFAULT_BACKOFF_BASE_S,
        backoff_max_s: float = DEFAULT_BACKOFF_MAX_S,
        concurrency: int | None = None,
        cpu_bound: bool = False,
    ) -> HandlerSpec:
        """Register (or replace) the handler of `kind` with its defaults (see HandlerSpec)."""
        spec = HandlerSpec(
            kind=kind,
            handler=handler,
            max_attempts=max_attempts,
            timeout_s=timeout_s,
            backoff_base_s=backoff_base_s,
            backoff_max_s=backoff_max_s,
            concurrency=concurrency,
            cpu_bound=cpu_bound,
        )
        _check_spec(spec)
        self._specs[kind] = spec
        return spec

    def get(self, kind: str) -> HandlerSpec:
        spec = self._specs.get(kind)
        if spec is None:
            raise InvalidParameter(
                "kind", f"{kind!r} has no registered handler; known: {sorted(self._specs)}"
            )
        return spec

    def kinds(self) -> list[str]:
        return sorted(self._specs)


def _check_spec(spec: HandlerSpec) -> None:
    if not spec.kind or len(spec.kind) > MAX_KIND_LENGTH:
        raise InvalidParameter("kind", f"must be 1 to {MAX_KIND_LENGTH} characters long")
    if spec.cpu_bound and not isinstance(spec.handler, str):
        raise InvalidParameter(
            "handler", "a cpu_bound kind needs a dotted path: the child process imports it"
        )
    if isinstance(spec.handler, str):
        resolve_handler(spec.handler)  # fail at registration, not at the first job
    if spec.max_attempts < 1:
        raise InvalidParameter("max_attempts", f"must be at least 1, got {spec.max_attempts}")
    if spec.timeout_s <= 0:
        raise InvalidParameter("timeout_s", f"must be positive, got {spec.timeout_s}")
    if spec.concurrency is not None and spec.concurrency < 1:
        raise InvalidParameter("concurrency", f"must be at least 1, got {spec.concurrency}")
    if spec.backoff_base_s < 0 or spec.backoff_max_s < spec.backoff_base_s:
        raise InvalidParameter("backoff_base_s", "must be >= 0 and at most backoff_max_s")
