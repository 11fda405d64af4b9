"""The descriptor every capability exports, and the parts a capability's service is built from.

A capability is a package with one `CAPABILITY = Capability(...)` in its `__init__.py`; the
platform, the server, migrations, the auth guard, the UI navigation and the CLI loop over the list
in `plimsoll.capabilities` and never name a capability themselves. Everything that would pull in a
heavy or higher layer (the service, the HTTP router, the CLI) is named by a dotted path,
`"package.module:attribute"`, and imported only by whoever needs it: the server never imports
the CLI, and the embedded SDK never imports FastAPI. A test (or a plugin) may pass the object
itself instead of its path.

    CAPABILITY = Capability(
        name="notes",                                   # platform.notes is its service
        tables="plimsoll.notes.store:TABLES",           # migrated, emptied between tests
        migrations=Path(__file__).with_name("migrations"),   # its own Alembic branch
        service="plimsoll.notes.service:NoteService",   # called with the platform's Parts
        router="plimsoll.notes.api:router",             # mounted by create_app
        permissions="plimsoll.notes.permissions:PERMISSIONS",
        pages="plimsoll.server.ui.notes:router",
        nav=(NavItem("Operate", "notes", "Notes", "/notes"),),
        cli=(CliGroup("notes", "plimsoll.cli.notes:app"),),   # or CliCommand("verb", "...:function")
        events="plimsoll.notes.events:EVENTS",
        blobs="referenced_blobs",                       # a service method: digests in use
    )

See docs/architecture.md, "Adding a capability".
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from plimsoll.core.blobs import BlobStore
    from plimsoll.core.config import Settings
    from plimsoll.core.db import Database
    from plimsoll.core.outbox import Backoff, Outbox
    from plimsoll.core.projects.service import ProjectService

T = TypeVar("T")

# A dotted path "package.module:attribute", or the object itself.
Ref = str | object


def load(ref: Any) -> Any:
    """The object a `Ref` names: imported on first use when it is a dotted path."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attribute = ref.partition(":")
    if not attribute:
        raise ValueError(f"{ref!r} is not a dotted path of the form 'package.module:attribute'")
    value: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        value = getattr(value, part)
    return value


@dataclass(frozen=True)
class NavItem:
    """One entry of the web UI's left navigation, under `section` ("Track", "Data", ...)."""

    section: str
    key: str  # what a page passes as `active` to highlight it
    label: str
    href: str
    # Shown only to site admins (and with auth off); the page's own permission row is what protects it.
    site_admin: bool = False
    # Within a section, entries go by `rank`, then in capability order: a capability listed
    # later (it depends on an earlier one) may still come first (Datasets before Lineage).
    rank: int = 0


@dataclass(frozen=True)
class CliGroup:
    """A `plimsoll <name> ...` command group: a Typer app named by dotted path."""

    name: str
    app: Ref


@dataclass(frozen=True)
class CliCommand:
    """A top-level `plimsoll <name>` command, for a verb that needs no noun (`plimsoll score`): a
    function of Typer parameters named by dotted path."""

    name: str
    command: Ref


@dataclass(frozen=True)
class JobKind:
    """A kind of background job a capability runs. `handler` is `handler(service, payload, context)`
    on a worker thread, given the capability's service; a `cpu_bound` one is `handler(payload,
    context)` in a child process (it gets no service: pass it what it needs in the payload).
    With `schedule` (a cron expression, seconds optional) the platform also runs it on that schedule."""

    kind: str
    handler: str  # "package.module:function"
    cpu_bound: bool = False
    max_attempts: int = 5
    timeout_s: float = 3600.0
    concurrency: int | None = None
    schedule: str | None = None
    backoff_base_s: float = 2.0  # the first retry after about this long, then doubling
    backoff_max_s: float = 600.0


@dataclass(frozen=True)
class Consumer:
    """A reader of the event outbox. `handler` names a method of the capability's service taking
    an `Event`. A `work` consumer handles each event once across all replicas (a webhook, a
    trigger); a `broadcast` one sees every event in every process (a cache). Delivery is at least
    once, in commit order per aggregate: handlers are idempotent by `event.id`."""

    name: str
    handler: str
    mode: Literal["work", "broadcast"] = "work"
    types: tuple[str, ...] | None = None  # None: every type
    before_batch: str | None = None  # a service method called once before each batch
    # How a failing handler is retried before its event is parked (None: the runner's default, a
    # few seconds; a consumer that reaches another system waits out that system's restarts).
    backoff: Backoff | None = None


@dataclass(frozen=True)
class Capability:
    name: str
    title: str = ""
    tables: Ref | None = None  # a sequence of sqlalchemy Tables
    migrations: Path | None = None  # an Alembic versions folder of the capability's own branch
    service: Ref | None = None  # a callable taking Parts
    router: Ref | None = None  # a FastAPI APIRouter with the JSON routes
    permissions: Ref | None = None  # a sequence of core.auth.permissions.Permission rows
    pages: Ref | None = None  # a FastAPI APIRouter with the web UI's pages
    nav: tuple[NavItem, ...] = ()
    cli: tuple[CliGroup | CliCommand, ...] = ()
    events: Ref | None = None  # a sequence of event types it publishes
    jobs: tuple[JobKind, ...] = ()
    consumers: tuple[Consumer, ...] = ()
    blobs: str | None = None  # name of a service method returning the blob digests it references
    # Name of a service method `(older_than_ms, *, dry_run) -> {what: ids or count}` that purges
    # what was deleted before `older_than_ms` (garbage collection calls it).
    retention: str | None = None

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or not self.name.islower():
            raise ValueError(f"capability name {self.name!r} must be a lowercase Python identifier")


@dataclass
class Parts:
    """What a capability's service is built from. `services` holds the services of the
    capabilities listed before this one: a capability reaches another only through its service."""

    settings: Settings
    db: Database
    blobs: BlobStore
    events: Outbox
    projects: ProjectService
    services: Mapping[str, Any] = field(default_factory=dict)


def check_unique(capabilities: Sequence[Capability]) -> None:
    seen: set[str] = set()
    for capability in capabilities:
        if capability.name in seen:
            raise ValueError(f"two capabilities are named {capability.name!r}")
        seen.add(capability.name)
