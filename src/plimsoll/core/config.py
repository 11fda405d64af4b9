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
| `PLIMSOLL_WEBHOOKS_SMTP_HOST` | the mail server the login below is for: `email` webhooks naming this host sign in (over TLS only) | unset |
| `PLIMSOLL_WEBHOOKS_SMTP_USERNAME`, `PLIMSOLL_WEBHOOKS_SMTP_PASSWORD` (or `_FILE`) | that login | unset: no login |
| `PLIMSOLL_AUDIT_KEY_FILE` | the key ring that signs the audit log (created on first start) | `$PLIMSOLL_HOME/audit.key`     |
| `PLIMSOLL_FILE_MODE` | mode of the files the platform creates (database, blobs); folders get the matching mode | `0600` |
| `PLIMSOLL_ALLOWED_HOSTS` | host names the server answers to, comma-separated (`*.example.com`; `*`: any) | the loopback names |
| `PLIMSOLL_TOKEN_MAX_DAYS` | the longest a new API token may live, in days                | no limit                              |
| `PLIMSOLL_SPOOL_DIR` | where the SDK keeps writes the server has not acknowledged (docs/sdk.md) | `~/.plimsoll/spool` |
| `PLIMSOLL_EXIT_TIMEOUT` | seconds a process at exit waits for an acknowledgement before it spools | 10 |
| `PLIMSOLL_SESSION_IDLE_MINUTES` | a web UI session ends after this long without a request | 60 |
| `PLIMSOLL_SESSION_MAX_HOURS` | a web UI session ends this long after sign-in, whatever happens | 12 |
| `PLIMSOLL_PASSWORD_SIGN_IN` | `0` hides password sign-in (single sign-on only) | on |
| `PLIMSOLL_COOKIE_SECURE` | `1`: cookies only over HTTPS even when the server sees plain HTTP (behind a TLS proxy) | when served over TLS |
| `PLIMSOLL_PUBLIC_URL` | the URL users reach the server at (single sign-on's redirect address is built from it) | from the request |
| `PLIMSOLL_OIDC_ISSUER` | the OpenID provider (its discovery document is at `/.well-known/openid-configuration`) | unset: no SSO |
| `PLIMSOLL_OIDC_CLIENT_ID`, `PLIMSOLL_OIDC_CLIENT_SECRET` (or `_FILE`) | this server's client at the provider | |
| `PLIMSOLL_OIDC_SCOPES` | scopes asked for, space-separated | `openid profile email` |
| `PLIMSOLL_OIDC_USERNAME_CLAIM`, `PLIMSOLL_OIDC_GROUPS_CLAIM` | claims naming the user and their groups | `preferred_username`, `groups` |
| `PLIMSOLL_OIDC_ROLES` | groups to roles: `group=project:role, admins=site-admin` | none |
| `PLIMSOLL_OIDC_CREATE_USERS` | `0`: a first single sign-on of an unknown user is refused | on |
| `PLIMSOLL_OIDC_LINK_EXISTING` | `1`: a first single sign-on may take over a local user of the same name | off |
| `PLIMSOLL_OIDC_LABEL` | the sign-in button's text | `Sign in with single sign-on` |
| `PLIMSOLL_OPENLINEAGE_URL` | an OpenLineage receiver (Marquez, ...): runs' START, COMPLETE and FAIL events are posted to it | unset: none posted |
| `PLIMSOLL_OPENLINEAGE_ENDPOINT` | the receiver's path under that URL | `api/v1/lineage` |
| `PLIMSOLL_OPENLINEAGE_API_KEY` (or `_FILE`) | sent as `Authorization: Bearer KEY` | unset |
| `PLIMSOLL_OPENLINEAGE_NAMESPACE` | the namespace of the jobs and datasets in the events | `plimsoll://HOST` of `PLIMSOLL_PUBLIC_URL`, else `plimsoll://local` |
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.files import PRIVATE_FILE_MODE, parse_file_mode

ENV_PREFIX = "PLIMSOLL_"


@dataclass(frozen=True)
class OidcSettings:
    """Single sign-on with an OpenID provider; see `PLIMSOLL_OIDC_*`."""

    issuer: str
    client_id: str
    client_secret: str | None = None
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    roles: str = ""  # parsed by core.auth.oidc.role_mapping when the server starts
    create_users: bool = True
    link_existing: bool = False
    label: str = "Sign in with single sign-on"


@dataclass(frozen=True)
class OpenLineageSettings:
    """Where runs' OpenLineage events go (docs/lineage.md, "OpenLineage"); see `PLIMSOLL_OPENLINEAGE_*`.
    Without a `url` nothing is posted, and `plimsoll lineage export --openlineage` still works."""

    url: str | None = None
    endpoint: str = "api/v1/lineage"
    api_key: str | None = None
    namespace: str | None = None  # None: from the public URL's host, else plimsoll://local


@dataclass(frozen=True)
class SmtpLogin:
    """The login `email` webhooks use at one mail server (docs/webhooks.md, "email"); see
    `PLIMSOLL_WEBHOOKS_SMTP_*`. Never taken from a subscription's URL, and sent to no other host."""

    host: str
    username: str
    password: str = field(repr=False)

    def is_for(self, host: str) -> bool:
        return _host_name(host) == _host_name(self.host)


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
    # The login `email` webhooks use at the one mail server it names; None: they send without one.
    webhooks_smtp_login: SmtpLogin | None = None
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
    # Web UI sign-in (docs/security.md, "Sign-in").
    session_idle_minutes: float = 60.0
    session_max_hours: float = 12.0
    password_sign_in: bool = True
    cookie_secure: bool | None = None  # None: when the request came over TLS
    public_url: str | None = None
    oidc: OidcSettings | None = None
    openlineage: OpenLineageSettings = field(default_factory=OpenLineageSettings)

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
            webhooks_smtp_login=_smtp_login(get),
            audit_key_file=_path(get("AUDIT_KEY_FILE")),
            file_mode=_file_mode(get("FILE_MODE")),
            allowed_hosts=host_list(get("ALLOWED_HOSTS")),
            token_max_days=_positive_days("TOKEN_MAX_DAYS", get("TOKEN_MAX_DAYS")),
            spool_dir=Path(spool) if (spool := get("SPOOL_DIR")) else None,
            exit_timeout=_seconds("EXIT_TIMEOUT", get("EXIT_TIMEOUT"), 10.0),
            session_idle_minutes=_positive(
                "SESSION_IDLE_MINUTES", get("SESSION_IDLE_MINUTES"), 60.0, "minutes"
            ),
            session_max_hours=_positive("SESSION_MAX_HOURS", get("SESSION_MAX_HOURS"), 12.0, "hours"),
            password_sign_in=_flag(get("PASSWORD_SIGN_IN") or "1"),
            cookie_secure=None if (secure := get("COOKIE_SECURE")) is None else _flag(secure),
            public_url=get("PUBLIC_URL"),
            oidc=_oidc(get),
            openlineage=_openlineage(get),
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


def _oidc(get: Callable[[str], str | None]) -> OidcSettings | None:
    issuer = get("OIDC_ISSUER")
    if issuer is None:
        return None
    client_id = get("OIDC_CLIENT_ID")
    if client_id is None:
        raise InvalidParameter(ENV_PREFIX + "OIDC_CLIENT_ID", "is needed when PLIMSOLL_OIDC_ISSUER is set")
    secret = get("OIDC_CLIENT_SECRET")
    if secret is None and (secret_file := get("OIDC_CLIENT_SECRET_FILE")) is not None:
        try:
            secret = Path(secret_file).read_text().strip()
        except OSError as error:
            raise InvalidParameter(
                ENV_PREFIX + "OIDC_CLIENT_SECRET_FILE", f"cannot read {secret_file}: {error.strerror}"
            ) from None
    defaults = OidcSettings(issuer=issuer, client_id=client_id)
    scopes = tuple((get("OIDC_SCOPES") or "").split()) or defaults.scopes
    if "openid" not in scopes:
        raise InvalidParameter(ENV_PREFIX + "OIDC_SCOPES", f"must include 'openid', got {' '.join(scopes)!r}")
    return OidcSettings(
        issuer=issuer,  # compared with the provider's own, character for character
        client_id=client_id,
        client_secret=secret,
        scopes=scopes,
        username_claim=get("OIDC_USERNAME_CLAIM") or defaults.username_claim,
        groups_claim=get("OIDC_GROUPS_CLAIM") or defaults.groups_claim,
        roles=get("OIDC_ROLES") or "",
        create_users=_flag(get("OIDC_CREATE_USERS") or "1"),
        link_existing=_flag(get("OIDC_LINK_EXISTING")),
        label=get("OIDC_LABEL") or defaults.label,
    )


def _smtp_login(get: Callable[[str], str | None]) -> SmtpLogin | None:
    host, username = get("WEBHOOKS_SMTP_HOST"), get("WEBHOOKS_SMTP_USERNAME")
    password = _secret(get, "WEBHOOKS_SMTP_PASSWORD")
    if host is None and username is None and password is None:
        return None
    if host is None or username is None or password is None:
        missing = [
            ENV_PREFIX + name
            for name, value in (
                ("WEBHOOKS_SMTP_HOST", host),
                ("WEBHOOKS_SMTP_USERNAME", username),
                ("WEBHOOKS_SMTP_PASSWORD", password),
            )
            if value is None
        ]
        raise InvalidParameter(
            missing[0],
            f"is needed with the other PLIMSOLL_WEBHOOKS_SMTP_* settings (missing: {', '.join(missing)})",
        )
    if not _host_name(host) or any(char in host for char in "/:@ "):
        raise InvalidParameter(
            ENV_PREFIX + "WEBHOOKS_SMTP_HOST", f"must be a host name such as mail.example.org, got {host!r}"
        )
    return SmtpLogin(host=host, username=username, password=password)


def _secret(get: Callable[[str], str | None], name: str) -> str | None:
    """`NAME`, or the content of the file `NAME_FILE` names (without its surrounding spaces)."""
    value = get(name)
    if value is None and (path := get(name + "_FILE")) is not None:
        try:
            value = Path(path).read_text().strip()
        except OSError as error:
            raise InvalidParameter(
                ENV_PREFIX + name + "_FILE", f"cannot read {path}: {error.strerror}"
            ) from None
    return value


def _host_name(host: str) -> str:
    return host.strip().lower().rstrip(".")


def _openlineage(get: Callable[[str], str | None]) -> OpenLineageSettings:
    url = get("OPENLINEAGE_URL")
    if url is not None:
        parsed = urlsplit(url)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise InvalidParameter(
                ENV_PREFIX + "OPENLINEAGE_URL",
                f"must be an http:// or https:// URL with a host, such as http://marquez:5000; got {url!r}",
            )
    api_key = get("OPENLINEAGE_API_KEY")
    if api_key is None and (key_file := get("OPENLINEAGE_API_KEY_FILE")) is not None:
        try:
            api_key = Path(key_file).read_text().strip()
        except OSError as error:
            raise InvalidParameter(
                ENV_PREFIX + "OPENLINEAGE_API_KEY_FILE", f"cannot read {key_file}: {error.strerror}"
            ) from None
    namespace = get("OPENLINEAGE_NAMESPACE")
    if namespace is not None and (namespace != namespace.strip() or not namespace.isprintable()):
        raise InvalidParameter(
            ENV_PREFIX + "OPENLINEAGE_NAMESPACE",
            f"must be printable, without spaces around it; got {namespace!r}",
        )
    return OpenLineageSettings(
        url=url,
        endpoint=(get("OPENLINEAGE_ENDPOINT") or OpenLineageSettings.endpoint).strip("/"),
        api_key=api_key,
        namespace=namespace,
    )


def _positive(name: str, text: str | None, default: float, unit: str) -> float:
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise InvalidParameter(ENV_PREFIX + name, f"must be a number of {unit} above 0, got {text!r}")
    return value


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
    return None if text is None else _positive(name, text, 0.0, "days")


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
