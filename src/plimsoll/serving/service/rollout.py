"""Traffic and the rollout: what replicas report (`report_traffic`), read back per version and role
(`traffic`), and the `serving.rollout` job that analyses each canary whose step has lasted its
window and advances it, promotes it, rolls it back or pauses it for want of data.

The analysis (`analyse`) judges the canary against the stable version over the step's window:
requests (at least `min_requests`, else it waits), error rate, p99 latency (from the replicas'
histograms), the predictions' distribution (the monitoring logs of role canary against role
stable, compared by `plimsoll.stats.compare`), agreement with the shadow (shadow rows joined on
`shadow_id(served id)`) and realised quality where labels arrived (labels joined by id).
"""

from __future__ import annotations

import builtins
import json
import logging
from collections.abc import Sequence
from typing import Any

from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.jobs import JobContext
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name, printable
from plimsoll.serving import store
from plimsoll.serving.entities import (
    CANARY,
    LATENCY_BUCKETS_MS,
    PAUSED,
    ROLE_CANARY,
    ROLE_SHADOW,
    ROLE_STABLE,
    ROLES,
    STABLE,
    SYSTEM_ACTOR,
    Deployment,
    TrafficStats,
    shadow_id,
)
from plimsoll.serving.service.base import MAX_NAME, _deployment
from plimsoll.serving.service.deploying import DeployingOps

log = logging.getLogger("plimsoll.serving")

MAX_REPORT = 1000  # stats in one report
MAX_REPLICA = 200
MAX_TIME = 2**62  # the latest `until` a traffic read takes (epoch ms)
MAX_VERSION = 2**53  # as the API admits (a JSON number)
MIN_ROWS = 30  # logged predictions (or labels) each side needs before they are judged
ID_COLUMN, PREDICTION_COLUMN, LABEL_COLUMN = "__id", "__prediction", "__label"
PERIOD_MS = store.TRAFFIC_PERIOD_MS


def _stats(field: str, value: Any) -> TrafficStats:
    if isinstance(value, dict):
        try:
            value = TrafficStats.from_dict(value)
        except TypeError as wrong:
            raise InvalidParameter(field, f"is not traffic stats: {wrong}") from None
    if not isinstance(value, TrafficStats):
        raise InvalidParameter(field, f"must be traffic stats, got {printable(value)!r}")
    if value.role not in ROLES:
        raise InvalidParameter(
            f"{field}.role", f"must be one of {', '.join(ROLES)}, got {printable(value.role)!r}"
        )
    check_int(f"{field}.version", value.version, minimum=1, maximum=MAX_VERSION)
    check_int(f"{field}.since", value.since, minimum=0)
    check_int(f"{field}.until", value.until, minimum=value.since)
    requests = check_int(f"{field}.requests", value.requests, minimum=0, maximum=10**12)
    check_int(f"{field}.errors", value.errors, minimum=0, maximum=requests)
    counts = value.latency_counts
    if counts and len(counts) != len(LATENCY_BUCKETS_MS) + 1:
        raise InvalidParameter(
            f"{field}.latency_counts",
            f"must hold {len(LATENCY_BUCKETS_MS) + 1} counts (LATENCY_BUCKETS_MS and one overflow), got {len(counts)}",
        )
    for i, count in enumerate(counts):
        check_int(f"{field}.latency_counts[{i}]", count, minimum=0, maximum=requests)
    if sum(counts) > requests:
        raise InvalidParameter(
            f"{field}.latency_counts", f"count {sum(counts)} answers, more than the {requests} requests"
        )
    return value


def _added(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    if not a:
        return tuple(b)
    if not b:
        return tuple(a)
    return tuple(x + y for x, y in zip(a, b, strict=True))


class RolloutOps(DeployingOps):
    # -- traffic -----------------------------------------------------------------------------------

    def report_traffic(self, project: str, name: str, stats: Sequence[TrafficStats], replica: str) -> int:
        """What a model server replica reports every few seconds: for each version and role it
        served, the requests, errors and latency histogram counted since its previous report
        (deltas, never running totals; `since`/`until` epoch ms). Each is added to the row of
        its replica and 10-second period (by `since`). Returns how many stats were stored.
        NotFound for an unknown deployment; InvalidParameter naming the field and its limit.
        No audit entry and no event (too frequent; the analysis reads them). Stable signature:
        the model server calls it."""
        check_name("replica", replica, max_length=MAX_REPLICA)
        given: Any = stats
        if isinstance(given, str | bytes) or not isinstance(given, Sequence):
            raise InvalidParameter("stats", f"must be a list of traffic stats, got {printable(stats)!r}")
        if len(stats) > MAX_REPORT:
            raise InvalidParameter("stats", f"has {len(stats)} items; the limit is {MAX_REPORT}")
        checked = [_stats(f"stats[{i}]", s) for i, s in enumerate(stats)]
        now = self.clock()
        with self.db.write() as conn:
            row = self._row(conn, project, name)
            for s in checked:
                key = {
                    "deployment_id": row["id"],
                    "version": s.version,
                    "role": s.role,
                    "replica": replica,
                    "period_start": s.since - s.since % PERIOD_MS,
                }
                found = store.traffic_row(conn, **key)
                if found is None:
                    store.insert_traffic(
                        conn,
                        {
                            **key,
                            "requests": s.requests,
                            "errors": s.errors,
                            "latency_counts": json.dumps(list(s.latency_counts)),
                            "updated_at": now,
                        },
                    )
                    continue
                counts = _added(json.loads(found["latency_counts"]), s.latency_counts)
                store.update_traffic(
                    conn,
                    key,
                    {
                        "requests": int(found["requests"]) + s.requests,
                        "errors": int(found["errors"]) + s.errors,
                        "latency_counts": json.dumps(list(counts)),
                        "updated_at": now,
                    },
                )
        return len(checked)

    def traffic(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        bucket_s: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> builtins.list[TrafficStats]:
        """The traffic of every replica added up per version and role over [since, until) (default:
        the last hour to now); with `bucket_s`, per version, role and bucket of that many seconds
        (a multiple of 10), for charts."""
        now = self.clock()
        until = now if until is None else check_int("until", until, minimum=0, maximum=MAX_TIME)
        since = (
            max(0, until - 3_600_000)
            if since is None
            else check_int("since", since, minimum=0, maximum=until)
        )
        if bucket_s is not None:
            check_int("bucket_s", bucket_s, minimum=10, maximum=86_400)
            if bucket_s % 10:
                raise InvalidParameter("bucket_s", f"must be a multiple of 10 seconds, got {bucket_s}")
        with self.db.read() as conn:
            row = self._row(conn, project, name)
            rows = store.traffic_rows(conn, row["id"], since - since % PERIOD_MS, until)
        return _aggregate(rows, since, until, None if bucket_s is None else bucket_s * 1000)

    # -- the rollout job ---------------------------------------------------------------------------

    def roll_out(self) -> dict[str, int]:
        """The `serving.rollout` job: analyse every running rollout whose step has lasted its
        window (and every one the analysis paused for want of data), then act on the verdict."""
        with self.db.read() as conn:
            ids = store.rolling_ids(conn, (CANARY, PAUSED))
        done: dict[str, int] = {}
        for deployment_id in ids:
            try:
                verdict = self.step(deployment_id)
            except Exception:  # one deployment's failure never stops the others
                log.exception("deployment %s: the rollout analysis failed", deployment_id)
                verdict = "failed"
            done[verdict] = done.get(verdict, 0) + 1
        return done

    def step(self, deployment_id: str) -> str:
        """Analyse one rollout and act: `advanced`, `promoted`, `rolled_back`, `paused` (waiting
        for data, or failing without auto rollback), or `not_due`/`held` (nothing done)."""
        with self.db.read() as conn:
            row = store.deployment_by_id(conn, deployment_id)
        if row is None:
            raise NotFound(f"deployment {deployment_id!r} not found")
        deployment = _deployment(row)
        now = self.clock()
        if (
            deployment.canary is None
            or deployment.paused_by is not None
            or deployment.state not in (CANARY, PAUSED)
        ):
            return "held"
        started = deployment.step_started_at or deployment.updated_at
        if now - started < deployment.policy.analysis_window_s * 1000:
            return "not_due"
        analysis = self.analyse(deployment, started, now)
        with self._change(SYSTEM_ACTOR) as change:
            current = store.deployment_by_id(change.conn, deployment_id, lock=True)
            if current is None or int(current["revision"]) != deployment.revision:
                return "held"  # changed meanwhile: the next run looks again
            policy = deployment.policy
            verdict = analysis["verdict"]
            if verdict == "fail":
                why = "the rollout analysis failed: " + "; ".join(analysis["failed"])
                if policy.auto_rollback:
                    self._roll_back(change, current, why, analysis=analysis, check_access=False)
                    return "rolled_back"
                # held for a person (`resume` or `rollback`): the job leaves it alone from now
                values: dict[str, Any] = {"state": PAUSED, "reason": why, "paused_by": SYSTEM_ACTOR}
                self._commit(change, current, values, "paused", reason=why, analysis=analysis)
                return "paused"
            if verdict == "wait":
                names = ", ".join(c["name"] for c in analysis["checks"] if c["status"] == "waiting")
                said = f"waiting for data ({names})"
                why = f"{said}: " + "; ".join(analysis["waiting"])
                # one line when it starts to wait (or waits for something else), not one a minute
                if current["state"] != PAUSED or not str(current["reason"]).startswith(said):
                    self._commit(
                        change,
                        current,
                        {"state": PAUSED, "reason": why},
                        "paused",
                        reason=why,
                        analysis=analysis,
                    )
                return "paused"
            if deployment.step + 1 < len(policy.steps):
                weight = policy.steps[deployment.step + 1]
                why = f"the analysis of {deployment.canary_weight:g}% passed: canary at {weight:g}%"
                values = {
                    "step": deployment.step + 1,
                    "canary_weight": weight,
                    "state": CANARY,
                    "step_started_at": now,
                    "reason": why,
                }
                self._commit(change, current, values, "step_advanced", reason=why, analysis=analysis)
                return "advanced"
            why = (
                f"the analysis at {deployment.canary_weight:g}% passed: version {deployment.canary} is stable"
            )
            values = {
                "stable": deployment.canary,
                "canary": None,
                "canary_weight": 0.0,
                "state": STABLE,
                "step": 0,
                "step_started_at": None,
                "reason": why,
            }
            self._commit(change, current, values, "promoted", reason=why, analysis=analysis)
            return "promoted"

    # -- the analysis ------------------------------------------------------------------------------

    def analyse(self, deployment: Deployment, since: int, until: int) -> dict[str, Any]:
        """The canary against the stable version over [since, until): each check `passed`,
        `failed`, `waiting` (too little data) or `skipped` (not asked for, or nothing logged), and
        the verdict: `fail` if any failed, else `wait` if any waits, else `pass`."""
        policy = deployment.policy
        with self.db.read() as conn:
            rows = store.traffic_rows(conn, deployment.id, since - since % PERIOD_MS, until)
        sides = {s.role: s for s in _aggregate(rows, since, until, None) if s.role != ROLE_SHADOW}
        canary = _side(sides, ROLE_CANARY, deployment.canary)
        stable = _side(sides, ROLE_STABLE, deployment.stable)
        checks: list[dict[str, Any]] = []

        def check(name: str, status: str, detail: str, **values: Any) -> None:
            checks.append({"name": name, "status": status, "detail": detail, **values})

        if canary.requests < policy.min_requests:
            check(
                "requests",
                "waiting",
                f"{canary.requests} canary requests of the {policy.min_requests} needed",
            )
        else:
            check("requests", "passed", f"{canary.requests} canary requests")
            rate, base = canary.error_rate or 0.0, stable.error_rate or 0.0
            limit = min(policy.max_error_rate, base + policy.max_error_rate_increase)
            status = "failed" if rate > limit else "passed"
            check(
                "error_rate",
                status,
                f"canary {rate:.4f} against stable {base:.4f} (at most {limit:.4f})",
                canary=rate,
                stable=base,
            )
            if policy.max_p99_ms is not None:
                p99 = canary.latency_quantile(0.99)
                if p99 is None:
                    check("latency_p99", "waiting", "no latency reported for the canary")
                else:
                    status = "failed" if p99 > policy.max_p99_ms else "passed"
                    check(
                        "latency_p99",
                        status,
                        f"canary p99 {p99:g} ms (at most {policy.max_p99_ms:g} ms)",
                        canary=p99,
                    )
        self._model_signals(deployment, since, until, check)
        failed = [f"{c['name']}: {c['detail']}" for c in checks if c["status"] == "failed"]
        waiting = [f"{c['name']}: {c['detail']}" for c in checks if c["status"] == "waiting"]
        return {
            "since": since,
            "until": until,
            "step": deployment.step,
            "weight": deployment.canary_weight,
            "canary": {"version": canary.version, "requests": canary.requests, "errors": canary.errors},
            "stable": {"version": stable.version, "requests": stable.requests, "errors": stable.errors},
            "checks": checks,
            "failed": failed,
            "waiting": waiting,
            "verdict": "fail" if failed else "wait" if waiting else "pass",
        }

    def _model_signals(self, deployment: Deployment, since: int, until: int, check: Any) -> None:
        """Predictions' distribution, shadow agreement and realised quality, from the monitoring
        logs of this deployment (skipped where nothing is logged)."""
        policy = deployment.policy
        if self.monitoring is None:
            check("predictions", "skipped", "this platform has no monitoring")
            return
        read = self._reader(deployment, since, until)
        canary, stable = read("predictions", ROLE_CANARY), read("predictions", ROLE_STABLE)
        if canary is None or stable is None or min(canary.num_rows, stable.num_rows) < MIN_ROWS:
            counts = tuple(0 if t is None else t.num_rows for t in (canary, stable))
            check(
                "predictions",
                "skipped",
                f"{counts[0]} canary and {counts[1]} stable predictions logged (fewer than {MIN_ROWS})",
            )
        else:
            from plimsoll.stats import compare

            report = compare(
                stable.select([PREDICTION_COLUMN]).rename_columns(["prediction"]),
                canary.select([PREDICTION_COLUMN]).rename_columns(["prediction"]),
                alpha=policy.drift_alpha,
            )
            result = report.columns.get("prediction")
            if result is None:
                check("predictions", "skipped", str(report.untested.get("prediction", "not testable")))
            else:
                status = "failed" if result.drifted else "passed"
                detail = f"{result.method} {result.statistic:.4g} (p {result.p_value if result.p_value is not None else 'n/a'}) against the stable version's"
                check("predictions", status, detail, method=result.method, statistic=result.statistic)
        if deployment.shadow is not None and policy.min_shadow_agreement is not None:
            shadow = read("predictions", ROLE_SHADOW)
            served = canary if canary is not None else None
            agreement, joined = _agreement(served, shadow)
            if joined < MIN_ROWS:
                check(
                    "shadow_agreement",
                    "waiting",
                    f"{joined} canary answers joined to their shadow's (fewer than {MIN_ROWS})",
                )
            else:
                status = "failed" if agreement < policy.min_shadow_agreement else "passed"
                check(
                    "shadow_agreement",
                    status,
                    f"{agreement:.3f} of {joined} answers agree with the shadow (at least {policy.min_shadow_agreement:g})",
                    value=agreement,
                )
        if policy.quality_metric is not None:
            labels = read("labels", None)
            quality = {
                role: _accuracy(table, labels)
                for role, table in ((ROLE_CANARY, canary), (ROLE_STABLE, stable))
            }
            counted = min(quality[ROLE_CANARY][1], quality[ROLE_STABLE][1])
            if counted < MIN_ROWS:
                check(
                    "quality",
                    "waiting",
                    f"{counted} labelled answers on the smaller side (fewer than {MIN_ROWS})",
                )
            else:
                ours, theirs = quality[ROLE_CANARY][0], quality[ROLE_STABLE][0]
                status = "failed" if ours < theirs - policy.max_quality_drop else "passed"
                check(
                    "quality",
                    status,
                    f"{policy.quality_metric} {ours:.4f} against the stable version's {theirs:.4f} (drop at most {policy.max_quality_drop:g})",
                    canary=ours,
                    stable=theirs,
                )

    def _reader(self, deployment: Deployment, since: int, until: int) -> Any:
        def read(kind: str, role: str | None) -> Any:
            assert self.monitoring is not None
            scope: dict[str, Any] = {"deployment": deployment.name, "role": role} if role is not None else {}
            try:
                table = self.monitoring.read(
                    kind, since=since, until=until, project=deployment.project, **scope
                )
            except (NotFound, InvalidParameter):
                return None
            return table if table.num_rows else None

        return read


def _side(sides: dict[str, TrafficStats], role: str, version: int | None) -> TrafficStats:
    found = sides.get(role)
    if found is not None and found.version == version:
        return found
    return TrafficStats(version or 0, role, 0, 0, 0, 0)


def _aggregate(
    rows: Sequence[Any], since: int, until: int, bucket_ms: int | None
) -> builtins.list[TrafficStats]:
    totals: dict[tuple[int, str, int], list[Any]] = {}
    for row in rows:
        start = (
            since if bucket_ms is None else int(row["period_start"]) - int(row["period_start"]) % bucket_ms
        )
        key = (int(row["version"]), str(row["role"]), start)
        found = totals.setdefault(key, [0, 0, ()])
        found[0] += int(row["requests"])
        found[1] += int(row["errors"])
        found[2] = _added(found[2], json.loads(row["latency_counts"]))
    return [
        TrafficStats(
            version,
            role,
            start,
            until if bucket_ms is None else min(until, start + bucket_ms),
            requests,
            errors,
            tuple(counts),
        )
        for (version, role, start), (requests, errors, counts) in sorted(
            totals.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])
        )
    ]


def _agreement(served: Any, shadow: Any) -> tuple[float, int]:
    """The share of served answers equal to their shadow's, and how many were joined."""
    if served is None or shadow is None:
        return 0.0, 0
    answers = dict(
        zip(served.column(ID_COLUMN).to_pylist(), served.column(PREDICTION_COLUMN).to_pylist(), strict=True)
    )
    joined = agreed = 0
    for shadow_row_id, answer in zip(
        shadow.column(ID_COLUMN).to_pylist(), shadow.column(PREDICTION_COLUMN).to_pylist(), strict=True
    ):
        if not isinstance(shadow_row_id, str) or not shadow_row_id.endswith(shadow_id("")):
            continue
        served_id = shadow_row_id[: -len(shadow_id(""))]
        if served_id in answers:
            joined += 1
            agreed += answers[served_id] == answer
    return (agreed / joined if joined else 0.0), joined


def _accuracy(predictions: Any, labels: Any) -> tuple[float, int]:
    if predictions is None or labels is None:
        return 0.0, 0
    truth = dict(
        zip(labels.column(ID_COLUMN).to_pylist(), labels.column(LABEL_COLUMN).to_pylist(), strict=True)
    )
    counted = right = 0
    for row_id, answer in zip(
        predictions.column(ID_COLUMN).to_pylist(),
        predictions.column(PREDICTION_COLUMN).to_pylist(),
        strict=True,
    ):
        if row_id in truth:
            counted += 1
            right += truth[row_id] == answer
    return (right / counted if counted else 0.0), counted


def run_rollout(service: RolloutOps, payload: Any, context: JobContext) -> dict[str, int]:
    """The `serving.rollout` job (every minute)."""
    return service.roll_out()


__all__ = ["MAX_NAME", "RolloutOps", "run_rollout"]
