"""Short ids: the last digits of a run's or an experiment's id, as the CLI and the pages show them
(`core.ids.short_id`), resolved to the whole id."""

from __future__ import annotations

from collections.abc import Collection

from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import check_id_or_short_id, is_id
from plimsoll.tracking import store
from plimsoll.tracking.service.base import ServiceBase

MAX_CANDIDATES_NAMED = 10


class IdOps(ServiceBase):
    def resolve_run_id(self, text: str, *, projects: Collection[str] | None = None) -> str:
        """The run id `text` is: a whole id as is (not looked up: the call it is given to checks
        it), or a short id (its last digits, at least 4) that ends exactly one run's id among the
        runs of `projects` (None: every project; deleted runs count). None matching is a
        NotFound; several, a Conflict naming their whole ids."""
        suffix = check_id_or_short_id("run_id", "run", text)
        if is_id(suffix):
            return suffix
        with self.db.read() as conn:
            found = store.run_ids_ending_with(conn, suffix, projects, MAX_CANDIDATES_NAMED + 1)
        return _the_one("run", text, [run_id for run_id, _ in found])

    def resolve_experiment_id(self, text: str, *, projects: Collection[str] | None = None) -> str:
        """`resolve_run_id` for experiments: a whole id as is, or the one experiment id (of
        `projects`, deleted ones too) that ends with `text`."""
        suffix = check_id_or_short_id("experiment_id", "experiment", text)
        if is_id(suffix):
            return suffix
        with self.db.read() as conn:
            found = store.experiment_ids_ending_with(conn, suffix, projects, MAX_CANDIDATES_NAMED + 1)
        return _the_one("experiment", text, [experiment_id for experiment_id, _ in found])


def _the_one(noun: str, text: str, ids: list[str]) -> str:
    if not ids:
        raise NotFound(f"no {noun} id ends with {text.strip().lower()!r}")
    if len(ids) > 1:
        named = ", ".join(ids[:MAX_CANDIDATES_NAMED])
        more = " and more" if len(ids) > MAX_CANDIDATES_NAMED else ""
        raise Conflict(
            f"{text.strip().lower()!r} ends several {noun} ids: {named}{more}; give more digits",
            details={"candidates": ids[:MAX_CANDIDATES_NAMED]},
        )
    return ids[0]
