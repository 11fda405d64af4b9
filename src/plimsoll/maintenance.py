"""Retention and garbage collection: what the platform forgets, and when.

    report = collect_garbage(platform, dry_run=True)     # what would go
    report = collect_garbage(platform)                   # purge it

One pass, in order:
1. each capability purges what was deleted longer ago than the retention (its descriptor's
   `retention` method; tracking purges deleted runs and old ingest batch ids);
2. finished jobs older than the job retention are pruned;
3. blobs that no capability references (the descriptors' `blobs` methods) and that were written
   longer ago than a grace period are swept. The grace period covers a blob stored a moment
   before the row that refers to it commits; a blob referenced by anything (an artifact of a
   deleted-but-not-purged run, later a registered model) is never swept.

It runs as the `maintenance.gc` job, daily (every platform schedules it), and as `plimsoll gc`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from plimsoll.core.blobs import BlobStore
from plimsoll.core.capability import Capability
from plimsoll.core.config import Settings
from plimsoll.core.ids import now_ms
from plimsoll.core.jobs import JobService
from plimsoll.core.outbox import Outbox


class Platform(Protocol):
    """What garbage collection needs of `plimsoll.platform.Platform` (which sits above this module)."""

    @property
    def capabilities(self) -> Sequence[Capability]: ...
    @property
    def services(self) -> Mapping[str, Any]: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def jobs(self) -> JobService: ...
    @property
    def blobs(self) -> BlobStore: ...
    @property
    def outbox(self) -> Outbox: ...


GC_JOB = "maintenance.gc"
GC_SCHEDULE = "17 3 * * *"  # daily, at a quiet minute
BLOB_GRACE_MS = 24 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000


@dataclass
class GcReport:
    dry_run: bool
    purged: dict[str, dict[str, Any]] = field(default_factory=dict)  # by capability
    jobs: int = 0
    events: int = 0
    blobs: list[str] = field(default_factory=list)
    blobs_kept: int = 0
    spools: int = 0  # leftover spool files of puts that never finished, removed

    def to_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "purged": self.purged,
            "jobs": self.jobs,
            "events": self.events,
            "blobs": self.blobs,
            "blobs_kept": self.blobs_kept,
            "spools": self.spools,
        }


def collect_garbage(platform: Platform, *, dry_run: bool = False, now: int | None = None) -> GcReport:
    now = now_ms() if now is None else now
    settings = platform.settings
    report = GcReport(dry_run=dry_run)
    for capability in platform.capabilities:
        service = platform.services.get(capability.name)
        if capability.retention is not None and service is not None:
            cutoff = now - int(settings.retention_days * DAY_MS)
            report.purged[capability.name] = getattr(service, capability.retention)(cutoff, dry_run=dry_run)
    if not dry_run:
        report.jobs = platform.jobs.prune(timedelta(days=settings.job_retention_days))
        report.events = platform.outbox.prune(now - int(settings.job_retention_days * DAY_MS))
    cutoff = now - BLOB_GRACE_MS
    referenced = referenced_blobs(platform)
    candidates = []
    for blob in platform.blobs.stored():
        if blob.digest in referenced or blob.modified_at > cutoff:
            report.blobs_kept += 1
        else:
            candidates.append(blob.digest)
    # The walk can take minutes: what came to refer to a candidate meanwhile (a new artifact with
    # the same content: storing it again renews the blob) keeps it. Each blob is looked at again
    # just before it goes.
    referenced = referenced_blobs(platform)
    for digest in candidates:
        modified = platform.blobs.modified_at(digest)
        if digest in referenced or modified is None or modified > cutoff:
            report.blobs_kept += 1
            continue
        report.blobs.append(digest)
        if not dry_run:
            platform.blobs.delete(digest)
    # A put takes seconds (a large one, minutes): a spool file untouched for the grace period
    # belongs to a process that died mid-put.
    for spool in platform.blobs.leftover_spools():
        if spool.modified_at <= cutoff:
            report.spools += 1
            if not dry_run:
                platform.blobs.delete_spool(spool.digest)
    return report


def referenced_blobs(platform: Platform) -> set[str]:
    """Every digest some capability refers to, read after the purge so that what a purged record
    held is free to go."""
    found: set[str] = set()
    for capability in platform.capabilities:
        service = platform.services.get(capability.name)
        if capability.blobs is not None and service is not None:
            found |= set(getattr(service, capability.blobs)())
    return found


def gc_job(platform: Platform, payload: Any, _context: Any) -> dict[str, Any]:
    """The `maintenance.gc` job: a garbage collection pass; `{"dry_run": true}` only reports."""
    dry_run = bool(payload.get("dry_run")) if isinstance(payload, dict) else False
    report = collect_garbage(platform, dry_run=dry_run)
    summary = report.to_dict()
    summary["blobs"] = len(report.blobs)  # the job keeps counts; `plimsoll gc --dry-run` lists them
    return summary
