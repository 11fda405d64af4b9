"""The audit log's health in `/metrics`, read from the database at each scrape: verifications run
in whichever process holds the job (a server or a `plimsoll worker`), and every server must show
the same answer.

    plimsoll_audit_verification_failures_total        failed verifications recorded (kept)
    plimsoll_audit_last_verification_ok               1 if the last one passed, 0 if it failed
    plimsoll_audit_last_verification_timestamp_seconds when it finished
    plimsoll_audit_checkpoints                        signed checkpoints stored

The last two `last_` series are absent until a first verification has run. Nothing here names a
row, a user or a project: `/metrics` is public.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from plimsoll.core.audit.service import AuditService

log = logging.getLogger("plimsoll.server")


class AuditMetrics(Collector):
    def __init__(self, audit: AuditService) -> None:
        self.audit = audit

    def describe(self) -> list[CounterMetricFamily | GaugeMetricFamily]:
        # Registered without a query: the registry asks for names once, at registration.
        return [
            CounterMetricFamily("plimsoll_audit_verification_failures", "Failed audit log verifications"),
            GaugeMetricFamily(
                "plimsoll_audit_last_verification_ok", "1 if the last audit log verification passed"
            ),
            GaugeMetricFamily(
                "plimsoll_audit_last_verification_timestamp_seconds", "When the last audit verification ended"
            ),
            GaugeMetricFamily("plimsoll_audit_checkpoints", "Signed audit log checkpoints stored"),
        ]

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        try:
            status = self.audit.status()
        except Exception as exc:  # a scrape must answer even when the database does not
            log.warning("audit metrics unavailable: %s", type(exc).__name__)
            return
        yield CounterMetricFamily(
            "plimsoll_audit_verification_failures", "Failed audit log verifications", value=status.failures
        )
        yield GaugeMetricFamily(
            "plimsoll_audit_checkpoints", "Signed audit log checkpoints stored", value=status.checkpoints
        )
        if status.last_ok is not None and status.last_finished_at is not None:
            yield GaugeMetricFamily(
                "plimsoll_audit_last_verification_ok",
                "1 if the last audit log verification passed",
                value=1 if status.last_ok else 0,
            )
            yield GaugeMetricFamily(
                "plimsoll_audit_last_verification_timestamp_seconds",
                "When the last audit verification ended",
                value=status.last_finished_at / 1000,
            )
