"""Settings, read once from flags and `PLIMSOLL_*` environment variables.

| variable          | meaning                                                  | default                               |
| ----------------- | -------------------------------------------------------- | ------------------------------------- |
| `PLIMSOLL_URL`    | server the SDK and CLI talk to; unset means embedded     | unset                                 |
| `PLIMSOLL_HOME`   | folder of the embedded store                             | `./.plimsoll`                         |
| `PLIMSOLL_STORE`  | SQLAlchemy URL of the metadata database                  | `sqlite:///$PLIMSOLL_HOME/plimsoll.db` |
| `PLIMSOLL_BLOBS`  | fsspec URL of the blob store                             | `$PLIMSOLL_HOME/blobs`                |
| `PLIMSOLL_AUTH`   | `1` turns authentication on for the server               | off                                   |
| `PLIMSOLL_TOKEN`  | API token the SDK and CLI send                           | unset                                 |
| `PLIMSOLL_RETENTION_DAYS` | days a deleted record is kept before garbage collection purges it | 30             |
| `PLIMSOLL_JOB_RETENTION_DAYS` | days a finished job (and a delivered event) is kept   | 14                                    |
| `PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE` | `1` lets webhooks reach private, loopback and link-local addresses | off              |
| `PLIMSOLL_AUDIT_KEY_FILE` | the key ring that signs the audit log (created on first start) | `$PLIMSOLL_HOME/audit.key`     |
| `PLIMSOLL_FILE_MODE` | mode of the files the platform creates (database, blobs); folders get the matching mode | `0600` |
| `PLIMSOLL_ALLOWED_HOSTS` | host names the server answers to, comma-separated (`*.example.com`; `*`: any) | the loopback names |
| `PLIMSOLL_TOKEN_MAX_DAYS` | the longest a new API token may live, in days                | no limit                              |
| `PLIMSOLL_SPOOL_DIR` | where the SDK keeps writes the server has not acknowledged (docs/sdk.md) | `~/.plimsoll/spool` |
| `PLIMSOLL_EXIT_TIMEOUT` | seconds a process at exit waits for an acknowledgement before it spools | 10 |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.files import PRIVATE_FILE_MODE, parse_file_mode

ENV_PREFIX = "PLIMSOLL_"


@dataclass(frozen=True)
class Settings:
    home: Path = field(default_factory=lambda: Path(".plimsoll"))
    store_url: str | None = None
    blobs_url: str | None = None
    auth: bool = False
    server_url: str | None = None
    token: str | None = None
    retention_days: float = 30.0
    job_retention_days: float = 14.0
    # Off: a webhook never reaches a private, loopback, link-local or otherwise internal address
    # (docs/webhooks.md); on for receivers inside the server's own network, and in tests.
    webhooks_allow_private: bool = False
    # Kept outside the database, so that access to the database alone cannot re-sign the audit log.
    audit_key_file: Path | None = None
    # Owner-only unless an operator opens it up (a backup agent's group, say): docs/security.md.
    file_mode: int = PRIVATE_FILE_MODE
    # The `Host` names the server answers to besides the loopback names (docs/security.md, "DNS
    # rebinding"); None: the loopback names only. `plimsoll server --allowed-hosts` sets it.
    allowed_hosts: tuple[str, ...] | None = None
    # The longest a new API token may live; None: no limit.
    token_max_days: float | None = None
    # The SDK's spool (None: ~/.plimsoll/spool), and how long an exiting process waits without an
    # acknowledgement from the server before it leaves its writes there (docs/sdk.md).
    spool_dir: Path | None = None
    exit_timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(ENV_PREFIX + name)
            return value if value else None

        home = Path(get("HOME") or ".plimsoll")
        return cls(
            home=home,
            store_url=get("STORE"),
            blobs_url=get("BLOBS"),
            auth=_flag(get("AUTH")),
            server_url=get("URL"),
            token=get("TOKEN"),
            retention_days=_days("RETENTION_DAYS", get("RETENTION_DAYS"), 30.0),
            job_retention_days=_days("JOB_RETENTION_DAYS", get("JOB_RETENTION_DAYS"), 14.0),
            webhooks_allow_private=_flag(get("WEBHOOKS_ALLOW_PRIVATE")),
            audit_key_file=_path(get("AUDIT_KEY_FILE")),
            file_mode=_file_mode(get("FILE_MODE")),
            allowed_hosts=host_list(get("ALLOWED_HOSTS")),
            token_max_days=_positive_days("TOKEN_MAX_DAYS", get("TOKEN_MAX_DAYS")),
            spool_dir=Path(spool) if (spool := get("SPOOL_DIR")) else None,
            exit_timeout=_seconds("EXIT_TIMEOUT", get("EXIT_TIMEOUT"), 10.0),
        )

    def with_overrides(self, **changes: object) -> Settings:
        """Flags win over the environment; `None` means "not given"."""
        given = {key: value for key, value in changes.items() if value is not None}
        return replace(self, **given)  # type: ignore[arg-type]

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.home / 'plimsoll.db').resolve()}"

    @property
    def resolved_blobs_url(self) -> str:
        return self.blobs_url or str((self.home / "blobs").resolve())

    @property
    def resolved_audit_key_file(self) -> Path:
        return (self.audit_key_file or self.home / "audit.key").expanduser().resolve()

    @property
    def resolved_spool_dir(self) -> Path:
        """Per user, not per working directory: the next process that logs may run elsewhere."""
        if self.spool_dir is not None:
            return self.spool_dir
        try:
            return Path.home() / ".plimsoll" / "spool"
        except RuntimeError:  # no home directory to be found
            return (self.home / "spool").resolve()


def _flag(text: str | None) -> bool:
    return (text or "").lower() in {"1", "true", "yes", "on"}


def host_list(text: str | None) -> tuple[str, ...] | None:
    """`a.example, b.example` as its names (what `--allowed-hosts` and PLIMSOLL_ALLOWED_HOSTS take);
    the server checks each name when it starts."""
    if text is None:
        return None
    names = tuple(name.strip() for name in text.split(",") if name.strip())
    return names or None


def _positive_days(name: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        days = float(text)
    except ValueError:
        days = 0.0
    if not 0 < days < float("inf"):
        raise InvalidParameter(ENV_PREFIX + name, f"must be a number of days above 0, got {text!r}")
    return days


def _seconds(name: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise InvalidParameter(ENV_PREFIX + name, f"must be a number of seconds (0 or more), got {text!r}")
    return seconds


def _days(name: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        days = float(text)
    except ValueError:
        days = -1.0
    if not days >= 0:
        raise InvalidParameter(ENV_PREFIX + name, f"must be a number of days (0 or more), got {text!r}")
    return days


def _path(text: str | None) -> Path | None:
    return None if text is None else Path(text)


def _file_mode(text: str | None) -> int:
    if text is None:
        return PRIVATE_FILE_MODE
    try:
        return parse_file_mode(text)
    except ValueError:
        raise InvalidParameter(
            ENV_PREFIX + "FILE_MODE",
            f"must be an octal file mode of read and write bits that lets the owner read and write "
            f"(0600, 0640, 0660, 0644), got {text!r}",
        ) from None
