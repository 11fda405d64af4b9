"""`client.registry` (and `pl.registry`): models, their versions and aliases, embedded or remote.

version = pl.registry.register("churn", run_id=run.id, artifact_path="model")
pl.registry.set_alias("churn", "staging", version.version, reason="passed offline checks")
pl.registry.get("churn@staging")            # or "churn/3", or "churn" for the latest
pl.registry.history("churn", "production", at=datetime(2026, 12, 1, tzinfo=UTC)).version
pl.registry.rollback("churn", "production", reason="latency regression")
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.model_registry.entities import AliasMove, Model, ModelVersion, parse_model_ref

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport


@dataclass(frozen=True)
class AliasHistory:
    """An alias's moves, newest first, and `version`: the one it held at the time asked about (now
    when none was), None if it held none."""

    version: int | None
    moves: tuple[AliasMove, ...]


class Registry:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<plimsoll registry of {self._transport.destination}>"

    def register(
        self,
        name: str,
        *,
        run_id: str,
        artifact_path: str,
        flavor: str = "python_function",
        description: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> ModelVersion:
        """A new version of model `name` (made if new) from the artifact run `run_id` logged under
        `artifact_path`; the same run's same artifact gives back the version that holds it."""
        return self._transport.registry_register(project, name, run_id, artifact_path, flavor, description)

    def get(self, ref: str, *, project: str = DEFAULT_PROJECT) -> ModelVersion:
        """`NAME/VERSION`, `NAME@ALIAS` (the version it holds now) or `NAME` (the latest)."""
        name, version, alias = parse_model_ref("ref", ref)
        return self._transport.registry_version(project, name, version, alias)

    def versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> builtins.list[ModelVersion]:
        """Every version of model `name`, newest first, with the aliases each holds."""
        return self._transport.registry_versions(project, name)

    def list(self, *, project: str = DEFAULT_PROJECT) -> builtins.list[Model]:
        return self._transport.registry_models(project)

    def set_alias(
        self,
        name: str,
        alias: str,
        version: int,
        *,
        reason: str = "",
        expected: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> AliasMove:
        """Point `alias` at `version` (refused for a protected alias, which moves through a
        promotion). With `expected`, only if the alias holds that version now: a Conflict
        otherwise, so that of two moves made from one reading only one happens."""
        return self._transport.registry_set_alias(project, name, alias, version, reason, expected)

    def rollback(
        self,
        name: str,
        alias: str,
        *,
        reason: str = "",
        expected: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> AliasMove:
        """Point `alias` back at the version it held before its current one. With `expected`,
        only if the alias holds that version now (a Conflict otherwise)."""
        return self._transport.registry_rollback(project, name, alias, reason, expected)

    def history(
        self, name: str, alias: str, *, at: datetime | int | None = None, project: str = DEFAULT_PROJECT
    ) -> AliasHistory:
        """The alias's moves, newest first; with `at` (a timezone-aware datetime, or epoch ms),
        those made by then, and `.version`: the version it held at that time."""
        moves = tuple(self._transport.registry_history(project, name, alias, _epoch_ms(at)))
        return AliasHistory(moves[0].version if moves else None, moves)


def _epoch_ms(at: datetime | int | None) -> int | None:
    if at is None or (isinstance(at, int) and not isinstance(at, bool)):
        return at
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise InvalidParameter("at", f"must be a timezone-aware datetime or epoch milliseconds, got {at!r}")
    return int(at.timestamp() * 1000)
