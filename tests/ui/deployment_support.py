"""A deployment with three hours of history, for the deployments' pages (tests/ui/test_deployment_pages.py).

`seed_deployments(platform)` registers three versions of `churn`, deploys `churn-prod` following
churn@production (v1 stable) and rolls v2 out as a canary, then plays the hours since through the
serving service as its replicas and its rollout job would: traffic reported every minute through
`report_traffic` (latency histograms, errors), the rollout job (`roll_out`) run at its times with
the service's clock moved there. v2 passes its first analysis (10 % → 50 %), then its error rate
climbs and the job rolls it back by itself; v3 is rolled out next, passes at 10 % and runs at 50 %
now. A second deployment, `churn-staging`, serves churn@staging with v3 as its shadow and no traffic.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from plimsoll.core.ids import new_id, now_ms
from plimsoll.platform import Platform
from plimsoll.serving.entities import LATENCY_BUCKETS_MS, TrafficStats

MINUTE = 60_000
HOUR = 60 * MINUTE
DEPLOYMENT = "churn-prod"
STAGING = "churn-staging"
MODEL = "churn"
POLICY = {
    "steps": [10, 50, 100],
    "analysis_window_s": 600,
    "min_requests": 200,
    "max_error_rate": 0.01,
    "max_p99_ms": 250,
}


@dataclass
class Seeded:
    now: int  # the clock's time once seeded (it then follows real time)
    started: int  # the first minute of traffic
    buckets: int  # minutes with traffic reported
    verdicts: list[str]  # what the rollout job did, in order


class _Clock:
    def __init__(self, start: int) -> None:
        self.now = start

    def __call__(self) -> int:
        return self.now


def _latencies(rng: random.Random, count: int, median_ms: float) -> tuple[int, ...]:
    """`count` answers' latencies (log-normal around `median_ms`) as the replicas' histogram."""
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    for _ in range(count):
        value = rng.lognormvariate(0, 0.6) * median_ms
        index = next(
            (i for i, bound in enumerate(LATENCY_BUCKETS_MS) if value <= bound), len(LATENCY_BUCKETS_MS)
        )
        counts[index] += 1
    return tuple(counts)


def seed_deployments(platform: Platform, actor: str = "ada") -> Seeded:
    registry, tracking = platform.model_registry, platform.tracking
    experiment = tracking.get_or_create_experiment(MODEL, actor=actor)
    for number in range(3):
        run = tracking.create_run(experiment.id, name=f"churn-{number + 1}", actor=actor)
        tracking.log_artifact(
            run.id, "model/weights.bin", f"weights {number} {new_id()}".encode(), actor=actor
        )
        registry.register_version(MODEL, run_id=run.id, artifact_path="model", actor=actor)
    registry.set_alias(MODEL, "production", 1, actor=actor)
    registry.set_alias(MODEL, "staging", 2, actor=actor)

    serving = platform.service("serving")
    real = now_ms()
    end = real - real % MINUTE
    start = end - 3 * HOUR
    clock = _Clock(start)
    serving.clock = clock
    rng = random.Random(7)
    verdicts: list[str] = []
    # minute -> what happens then (before that minute's traffic is reported)
    v2_start, v2_fails_from, v3_start = start + 20 * MINUTE, start + 32 * MINUTE, start + 158 * MINUTE
    try:
        serving.deploy(DEPLOYMENT, f"{MODEL}@production", policy=POLICY, reason="first release", actor=actor)
        serving.deploy(STAGING, f"{MODEL}@staging", environment="staging", shadow=3, actor=actor)
        minute = start
        while minute < end:
            clock.now = minute
            if minute == v2_start:
                serving.deploy(DEPLOYMENT, f"{MODEL}@production", canary=2, policy=POLICY, actor=actor)
            if minute == v3_start:
                serving.deploy(
                    DEPLOYMENT, f"{MODEL}@production", canary=3, policy=POLICY,
                    reason="v3: retrained on March data", actor=actor,
                )  # fmt: skip
            if (minute - start) % (5 * MINUTE) == 0:  # the job, every 5 minutes here
                verdicts.extend(k for k, n in serving.roll_out().items() for _ in range(n))
            deployment = serving.get(DEPLOYMENT)
            total = int(1200 + 300 * rng.random() + 200 * ((minute // MINUTE) % 60 > 40))
            canary_share = deployment.canary_weight / 100 if deployment.canary is not None else 0.0
            canary = round(total * canary_share)
            stats = []
            if total - canary:
                stats.append(
                    TrafficStats(
                        deployment.stable or 1, "stable", minute, minute + MINUTE, total - canary,
                        rng.randint(0, 2), _latencies(rng, total - canary, 6.0),
                    )
                )  # fmt: skip
            if canary:
                failing = deployment.canary == 2 and minute >= v2_fails_from
                errors = round(canary * (0.06 if failing else 0.002))
                stats.append(
                    TrafficStats(
                        deployment.canary or 0, "canary", minute, minute + MINUTE, canary, errors,
                        _latencies(rng, canary, 9.0 if deployment.canary == 2 else 5.0),
                    )
                )  # fmt: skip
            serving.report_traffic("default", DEPLOYMENT, stats, replica="replica-1")
            minute += MINUTE
        clock.now = end
    finally:
        serving.clock = now_ms
    return Seeded(now=end, started=start, buckets=(end - start) // MINUTE, verdicts=verdicts)
