"""Single sign-on with OpenID Connect: the relying party's side of the authorization code flow.

It defends against a forged or replayed sign-in: a callback whose `state` is not the one this
browser was sent with (login CSRF), a mixed-up provider (`iss` of the callback and of the ID token,
the discovery document's own `issuer`), a stolen authorization code (PKCE with S256, confidential
client), a replayed ID token (`nonce`), and a token signed by anyone but the provider (its JWKS,
asymmetric algorithms only, so neither `none` nor an HMAC keyed with a public key passes), meant
for another client (`aud`, `azp`) or out of date (`exp`, `iat`). Everything here is stateless:
the caller keeps the `Authorization` server-side until the callback.

The protocol is Authlib's (authorization URL, PKCE, token request, client authentication, the ID
token's claim checks); the signature is joserfc's, which Authlib itself uses for ID tokens.
"""

from __future__ import annotations

import hmac
import re
import threading
import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.base import OAuth2Error
from authlib.oauth2.client import OAuth2Client
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from plimsoll.core.auth.entities import Role
from plimsoll.core.errors import InvalidParameter, OidcRefused, OidcUnavailable

__all__ = [
    "Authorization",
    "Identity",
    "OidcClient",
    "OidcConfig",
    "OidcRefused",
    "OidcUnavailable",
    "RoleMapping",
    "role_mapping",
]

DISCOVERY_PATH = "/.well-known/openid-configuration"
METADATA_TTL_S = 3600.0
ROLES_SETTING = "PLIMSOLL_OIDC_ROLES"
SITE_ADMIN = "site-admin"
# Asymmetric only: an HMAC algorithm would let anyone holding the provider's public key (or the
# client secret) sign, and "none" would let anyone at all.
SIGNING_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"}
)
_STATE_BYTES = 32  # generate_token's length: 32 characters of 62, about 190 bits
_VERIFIER_LENGTH = 64  # RFC 7636: between 43 and 128 characters
# Which check a failed ID-token claim belongs to, for `OidcRefused.details["reason"]`.
_REASON_BY_CLAIM = {
    "iss": "issuer",
    "aud": "audience",
    "azp": "audience",
    "nonce": "nonce",
    "exp": "expired",
    "iat": "not_yet_valid",
    "nbf": "not_yet_valid",
}


@dataclass(frozen=True)
class OidcConfig:
    """One OpenID provider and this server's registration with it."""

    issuer: str  # discovery at issuer + "/.well-known/openid-configuration"
    client_id: str
    client_secret: str | None
    scopes: tuple[str, ...] = ("openid", "profile", "email")
    username_claim: str = "preferred_username"
    groups_claim: str = "groups"
    timeout_s: float = 5.0
    leeway_s: int = 60

    def __repr__(self) -> str:  # never the secret, in a log or a traceback
        return f"OidcConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what to keep server-side (never in the browser's hands
    alone) until its callback: the callback's `state` must match, `code_verifier` goes to the
    token request and `nonce` must come back inside the ID token."""

    url: str
    state: str
    nonce: str
    code_verifier: str

    def __repr__(self) -> str:
        return f"Authorization(url={self.url!r})"


@dataclass(frozen=True)
class Identity:
    """Who signed in, from a verified ID token. `issuer` and `subject` together are the stable
    key of the person; `username` is what the configured claim says and may change."""

    issuer: str
    subject: str
    username: str
    email: str | None
    display_name: str | None
    groups: tuple[str, ...]
    claims: dict[str, Any] = field(repr=False)


class OidcClient:
    """The relying party for one provider. Safe to share between threads: the discovery document
    and the provider's keys are cached behind a lock, everything else is per call."""

    def __init__(self, config: OidcConfig, *, http: httpx.Client | None = None) -> None:
        self.config = config
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=config.timeout_s, follow_redirects=False)
        self._lock = threading.Lock()
        self._metadata: dict[str, Any] | None = None
        self._metadata_expires_at = 0.0
        self._keys: KeySet | None = None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document, fetched at most once an hour."""
        with self._lock:
            if self._metadata is None or time.monotonic() >= self._metadata_expires_at:
                self._metadata = self._discover()
                self._metadata_expires_at = time.monotonic() + METADATA_TTL_S
            return self._metadata

    def authorization(self, redirect_uri: str) -> Authorization:
        """A fresh authorization request: random state, nonce and PKCE verifier (S256)."""
        nonce = generate_token(_STATE_BYTES)
        code_verifier = generate_token(_VERIFIER_LENGTH)
        url, state = self._protocol().create_authorization_url(
            self.metadata()["authorization_endpoint"],
            state=generate_token(_STATE_BYTES),
            code_verifier=code_verifier,
            redirect_uri=redirect_uri,
            nonce=nonce,
        )
        return Authorization(url=str(url), state=str(state), nonce=nonce, code_verifier=code_verifier)

    def code_from_callback(self, params: Mapping[str, str], *, state: str) -> str:
        """The authorization code of the browser's callback to `redirect_uri`, once its `state`
        is the one this sign-in started with and its `iss` (RFC 9207, when the provider sends it)
        is our provider; a provider's error answer (the user declined, say) is refused as such."""
        if not hmac.compare_digest(params.get("state", "").encode(), state.encode()):
            raise _refused("state", "the sign-in answer is not for the sign-in this browser started")
        issuer = params.get("iss")
        if issuer is not None and issuer != self.config.issuer:
            raise _refused("issuer", f"the sign-in answer comes from {issuer!r}, not {self.config.issuer!r}")
        if "error" in params:
            # Anyone can put text in this link: only an error code of RFC 6749's shape is shown.
            error = params["error"]
            code_said = f" ({error})" if re.fullmatch(r"[a-z_]{1,40}", error) else ""
            raise _refused("provider_error", f"{self.config.issuer} did not sign you in{code_said}")
        code = params.get("code", "")
        if not code:
            raise _refused("provider_error", "the sign-in answer carries no authorization code")
        return code

    def identity(self, *, code: str, redirect_uri: str, code_verifier: str, nonce: str) -> Identity:
        """Exchange the authorization code for tokens and return who the verified ID token says
        signed in."""
        token = self._exchange(code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise _refused("token_exchange", f"{self.config.issuer} answered without an ID token")
        access_token = token.get("access_token")
        claims = self.verify_id_token(
            id_token, nonce=nonce, access_token=access_token if isinstance(access_token, str) else None
        )
        return self._identity_from(claims)

    def verify_id_token(
        self, id_token: str, *, nonce: str, access_token: str | None = None
    ) -> dict[str, Any]:
        """The claims of `id_token` once its signature, issuer, audience, times and nonce check out
        (and its `at_hash`, given the access token it came with)."""
        if not nonce:
            raise _refused("nonce", "no nonce to check the ID token against")
        decoded = self._decode(id_token)
        params: dict[str, Any] = {"nonce": nonce, "client_id": self.config.client_id}
        if access_token:
            params["access_token"] = access_token
        options: dict[str, Any] = {
            "iss": {"essential": True, "value": self.config.issuer},
            "aud": {"essential": True, "value": self.config.client_id},
            "nonce": {"essential": True},
        }
        claims = CodeIDToken(decoded.claims, decoded.header, options, params)
        try:
            claims.validate(leeway=self.config.leeway_s)
        except ExpiredTokenError:
            raise _refused("expired", "the ID token has expired") from None
        except ClaimError as error:
            reason = _REASON_BY_CLAIM.get(error.claim, "claims")
            if isinstance(error, MissingClaimError) and reason not in ("issuer", "audience", "nonce"):
                reason = "claims"
            raise _refused(reason, f"the ID token's {error.claim!r} claim is wrong or missing") from None
        audiences = decoded.claims["aud"]
        if isinstance(audiences, list) and len(audiences) > 1 and decoded.claims.get("azp") is None:
            raise _refused("audience", "the ID token names several audiences but no authorized party")
        return dict(decoded.claims)

    def close(self) -> None:
        """Close the HTTP client this created (one passed in stays its owner's to close)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _protocol(self) -> Any:
        # Authlib's generic OAuth 2 client over our httpx client. Its httpx integration module is
        # not used: Authlib 1.9 warns on importing it (it moves to another HTTP library).
        return OAuth2Client(
            self._http,
            client_id=self.config.client_id,
            client_secret=self.config.client_secret,
            token_endpoint_auth_method="client_secret_basic" if self.config.client_secret else "none",
            scope=" ".join(self.config.scopes),
            code_challenge_method="S256",
            response_type="code",
        )

    def _get_json(self, url: str, what: str) -> Any:
        try:
            response = self._http.get(
                url, timeout=self.config.timeout_s, headers={"Accept": "application/json"}
            )
        except httpx.HTTPError as error:
            raise self._unavailable(f"its {what} ({url}) did not answer: {type(error).__name__}") from None
        if response.status_code >= 500:
            raise self._unavailable(f"its {what} ({url}) answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise _refused(
                "provider_error", f"{self.config.issuer}: {what} answered HTTP {response.status_code}"
            )
        try:
            return response.json()
        except ValueError:
            raise _refused("provider_error", f"{self.config.issuer}: {what} is not JSON") from None

    def _discover(self) -> dict[str, Any]:
        url = self.config.issuer.rstrip("/") + DISCOVERY_PATH
        document = self._get_json(url, "discovery document")
        if not isinstance(document, dict):
            raise _refused("provider_error", f"{self.config.issuer}: the discovery document is not an object")
        if document.get("issuer") != self.config.issuer:
            raise _refused(
                "issuer",
                f"the discovery document at {url} names the issuer {document.get('issuer')!r}, "
                f"not {self.config.issuer!r}",
            )
        for needed in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(needed), str) or not document[needed]:
                raise _refused(
                    "provider_error", f"{self.config.issuer}: the discovery document has no {needed}"
                )
        return document

    def _key_set(self, *, refresh: bool) -> KeySet:
        with self._lock:
            keys = self._keys
        if keys is not None and not refresh:
            return keys
        document = self._get_json(self.metadata()["jwks_uri"], "key set")
        try:
            keys = KeySet.import_key_set(document)
        except (JoseError, ValueError, TypeError, KeyError):
            raise _refused("signature", f"{self.config.issuer}: its key set is not a JWK set") from None
        with self._lock:
            self._keys = keys
        return keys

    def _decode(self, id_token: str) -> jwt.Token:
        advertised = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in advertised if alg in SIGNING_ALGORITHMS]
        if not algorithms:
            raise _refused(
                "signature", f"{self.config.issuer} signs ID tokens with none of {sorted(SIGNING_ALGORITHMS)}"
            )
        registry = JWSRegistry(algorithms=algorithms)
        try:
            try:
                return jwt.decode(id_token, self._key_set(refresh=False), registry=registry)
            except InvalidKeyIdError:  # the provider may have rotated its keys since we fetched them
                return jwt.decode(id_token, self._key_set(refresh=True), registry=registry)
        except (BadSignatureError, InvalidKeyIdError):
            raise _refused("signature", "the ID token's signature does not verify") from None
        except JoseError as error:
            raise _refused("signature", f"the ID token is refused: {error.error}") from None
        except (ValueError, TypeError):
            raise _refused("signature", "the ID token is not a JWT") from None

    def _exchange(self, *, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        protocol = self._protocol()
        protocol.SESSION_REQUEST_PARAMS = ["timeout"]
        auth = _HttpxClientAuth(
            ClientAuth(self.config.client_id, self.config.client_secret, protocol.token_endpoint_auth_method)
        )
        try:
            token = protocol.fetch_token(
                self.metadata()["token_endpoint"],
                grant_type="authorization_code",
                code=code,
                redirect_uri=redirect_uri,
                code_verifier=code_verifier,
                auth=auth,
                timeout=self.config.timeout_s,
            )
        except OAuth2Error as error:
            raise _refused(
                "token_exchange", f"{self.config.issuer} refused the authorization code: {error.error}"
            ) from None
        except httpx.HTTPStatusError as error:
            status = error.response.status_code
            if status >= 500:
                raise self._unavailable(f"its token endpoint answered HTTP {status}") from None
            raise _refused(
                "token_exchange", f"{self.config.issuer}: token endpoint answered HTTP {status}"
            ) from None
        except httpx.HTTPError as error:
            raise self._unavailable(f"its token endpoint did not answer: {type(error).__name__}") from None
        except ValueError:
            raise _refused("token_exchange", f"{self.config.issuer}: the token answer is not JSON") from None
        return dict(token)

    def _identity_from(self, claims: dict[str, Any]) -> Identity:
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise _refused("claims", "the ID token has no subject ('sub')")
        username = claims.get(self.config.username_claim)
        if not isinstance(username, str) or not username.strip():
            raise _refused(
                "claims",
                f"the ID token has no {self.config.username_claim!r} claim to take the user name from; "
                "the provider must release it (scopes), or another claim must be configured",
            )
        groups = claims.get(self.config.groups_claim, [])
        if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
            raise _refused(
                "claims", f"the ID token's {self.config.groups_claim!r} claim is not a list of names"
            )
        email = claims.get("email")
        name = claims.get("name")
        return Identity(
            issuer=self.config.issuer,
            subject=subject,
            username=username.strip(),
            email=email if isinstance(email, str) and email else None,
            display_name=name if isinstance(name, str) and name else None,
            groups=tuple(groups),
            claims=claims,
        )

    def _unavailable(self, problem: str) -> OidcUnavailable:
        return OidcUnavailable(
            f"OpenID provider {self.config.issuer} is unavailable: {problem}",
            details={"issuer": self.config.issuer},
        )


class _HttpxClientAuth(httpx.Auth):
    """Authlib's client authentication (client_secret_basic here) applied to an httpx request, as
    Authlib's own httpx integration does."""

    requires_request_body = True

    def __init__(self, client_auth: Any) -> None:
        self._client_auth = client_auth

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        url, headers, body = self._client_auth.prepare(
            request.method, str(request.url), request.headers, request.content
        )
        headers["Content-Length"] = str(len(body))
        # The extensions carry the request's timeout.
        yield httpx.Request(request.method, url, headers=headers, content=body, extensions=request.extensions)


def _refused(reason: str, message: str) -> OidcRefused:
    return OidcRefused(message, details={"reason": reason})


@dataclass(frozen=True)
class RoleMapping:
    """Which groups of the provider make a site admin, and which give which role in a project."""

    site_admin_groups: frozenset[str] = frozenset()
    project_roles: tuple[tuple[str, str, Role], ...] = ()  # (group, project, role)

    def grants(self, groups: Iterable[str]) -> tuple[bool, dict[str, Role]]:
        """(Site admin?, the highest role in each project) for a member of `groups`."""
        member_of = set(groups)
        roles: dict[str, Role] = {}
        for group, project, role in self.project_roles:
            if group in member_of and (project not in roles or role > roles[project]):
                roles[project] = role
        return bool(member_of & self.site_admin_groups), roles


def role_mapping(text: str) -> RoleMapping:
    """Parse `group=site-admin` and `group=project:role` entries, separated by commas or lines,
    e.g. "ml-admins=site-admin, ml-team=default:contributor, ml-team=vision:viewer"."""
    admins: set[str] = set()
    project_roles: list[tuple[str, str, Role]] = []
    for raw in text.replace("\n", ",").split(","):
        entry = raw.strip()
        if not entry:
            continue
        # The last "=": a group name may hold one (cn=ml-team), a project or a role never does.
        group, equals, target = (part.strip() for part in entry.rpartition("="))
        if not equals or not group or not target:
            raise _bad_entry(entry, "must be group=site-admin or group=project:role")
        if target == SITE_ADMIN:
            admins.add(group)
            continue
        project, colon, role_name = (part.strip() for part in target.partition(":"))
        if not colon or not project or not role_name:
            raise _bad_entry(entry, "must be group=site-admin or group=project:role")
        try:
            role = Role(role_name)
        except ValueError:
            names = ", ".join(role.value for role in Role)
            raise _bad_entry(entry, f"{role_name!r} is not a role; the roles are {names}") from None
        project_roles.append((group, project, role))
    return RoleMapping(frozenset(admins), tuple(project_roles))


def _bad_entry(entry: str, problem: str) -> InvalidParameter:
    return InvalidParameter(ROLES_SETTING, f"entry {entry!r} {problem}", details={"entry": entry})
