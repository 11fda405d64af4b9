"""OpenID Connect sign-in (plimsoll.core.auth.oidc): the whole code flow against a real provider
(`oidc-provider` from npm on 127.0.0.1, its login and consent forms driven by an HTTP client), and
the ID-token checks against tokens this file signs itself, served with their keys by a small real
HTTP server on 127.0.0.1."""

from __future__ import annotations

import base64
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from oidc_support import Provider, running_provider
from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.oidc import (
    Authorization,
    OidcClient,
    OidcConfig,
    OidcRefused,
    OidcUnavailable,
    RoleMapping,
    role_mapping,
)
from plimsoll.core.errors import InvalidParameter

REDIRECT_URI = "http://127.0.0.1:9/oidc/callback"  # never contacted: the flow stops at the redirect
GROUPS = {"ada": ["ml-admins", "ml-team"], "bob": ["ml-team"]}


# --- the real provider -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with running_provider(
        tmp_path_factory.mktemp("oidc"), redirect_uris=[REDIRECT_URI], groups=GROUPS
    ) as running:
        yield running


@contextmanager
def _client(provider: Provider, **overrides: Any) -> Iterator[OidcClient]:
    config = OidcConfig(
        issuer=provider.issuer,
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        **overrides,
    )
    with OidcClient(config) as client:
        yield client


class _Form(HTMLParser):
    """The first form of a page: its action and the names and values of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.inputs: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "form" and self.action is None:
            self.action = attributes.get("action") or ""
        elif tag == "input" and attributes.get("name"):
            self.inputs[str(attributes["name"])] = attributes.get("value") or ""


def _sign_in(authorization: Authorization, login: str) -> dict[str, str]:
    """Do what a browser does at the provider: log in as `login` (any password), consent, and
    return the query of the redirect back to REDIRECT_URI."""
    with httpx.Client(timeout=10, follow_redirects=False) as browser:
        response = browser.get(authorization.url)
        for _ in range(12):
            if response.is_redirect:
                location = urljoin(str(response.url), response.headers["location"])
                if location.startswith(REDIRECT_URI):
                    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
                response = browser.get(location)
                continue
            assert response.status_code == 200, response.text
            form = _Form()
            form.feed(response.text)
            assert form.action is not None, response.text
            fields = dict(form.inputs)
            if "login" in fields:
                fields.update(login=login, password="any password")
            response = browser.post(urljoin(str(response.url), form.action), data=fields)
    raise AssertionError("the provider never redirected back")


def _signed_in_code(client: OidcClient, login: str) -> tuple[Authorization, str]:
    authorization = client.authorization(REDIRECT_URI)
    callback = _sign_in(authorization, login)
    return authorization, client.code_from_callback(callback, state=authorization.state)


def test_a_sign_in_at_the_provider_gives_the_identity_with_its_groups(provider: Provider) -> None:
    with _client(provider) as client:
        authorization = client.authorization(REDIRECT_URI)
        query = parse_qs(urlsplit(authorization.url).query)
        assert query["response_type"] == ["code"] and query["code_challenge_method"] == ["S256"]
        assert query["state"] == [authorization.state] and query["nonce"] == [authorization.nonce]
        assert authorization.code_verifier not in authorization.url
        assert set(query["scope"][0].split()) == {"openid", "profile", "email"}

        callback = _sign_in(authorization, "ada")
        assert callback["iss"] == provider.issuer  # RFC 9207, checked by code_from_callback
        code = client.code_from_callback(callback, state=authorization.state)
        identity = client.identity(
            code=code,
            redirect_uri=REDIRECT_URI,
            code_verifier=authorization.code_verifier,
            nonce=authorization.nonce,
        )
        assert (identity.issuer, identity.subject, identity.username) == (provider.issuer, "ada", "ada")
        assert (identity.email, identity.display_name) == ("ada@example.test", "Ada")
        assert identity.groups == ("ml-admins", "ml-team")
        assert identity.claims["aud"] == provider.client_id


def test_a_second_sign_in_is_fresh_and_a_code_works_only_once(provider: Provider) -> None:
    with _client(provider) as client:
        first, second = client.authorization(REDIRECT_URI), client.authorization(REDIRECT_URI)
        assert len({first.state, second.state, first.nonce, second.nonce, first.code_verifier}) == 5
        authorization, code = _signed_in_code(client, "bob")
        exchange = {"code": code, "redirect_uri": REDIRECT_URI, "code_verifier": authorization.code_verifier}
        assert client.identity(**exchange, nonce=authorization.nonce).groups == ("ml-team",)
        with pytest.raises(OidcRefused) as refused:
            client.identity(**exchange, nonce=authorization.nonce)
        assert refused.value.reason == "token_exchange" and "invalid_grant" in refused.value.message
        assert provider.client_secret not in refused.value.message


def test_a_code_with_another_verifier_or_nonce_is_refused(provider: Provider) -> None:
    with _client(provider) as client:
        authorization, code = _signed_in_code(client, "ada")
        other = client.authorization(REDIRECT_URI)
        with pytest.raises(OidcRefused) as refused:
            client.identity(
                code=code,
                redirect_uri=REDIRECT_URI,
                code_verifier=other.code_verifier,
                nonce=authorization.nonce,
            )
        assert refused.value.reason == "token_exchange" and "invalid_grant" in refused.value.message

        authorization, code = _signed_in_code(client, "ada")
        with pytest.raises(OidcRefused) as refused:
            client.identity(
                code=code,
                redirect_uri=REDIRECT_URI,
                code_verifier=authorization.code_verifier,
                nonce=other.nonce,
            )
        assert refused.value.reason == "nonce"


def test_a_callback_is_refused_for_another_state_issuer_or_a_provider_error(provider: Provider) -> None:
    with _client(provider) as client:
        state = client.authorization(REDIRECT_URI).state
        callbacks = {
            "state": {"code": "c", "state": "someone-elses", "iss": provider.issuer},
            "issuer": {"code": "c", "state": state, "iss": "http://127.0.0.1:1"},
            "provider_error": {"error": "access_denied", "state": state, "iss": provider.issuer},
        }
        for reason, callback in callbacks.items():
            with pytest.raises(OidcRefused) as refused:
                client.code_from_callback(callback, state=state)
            assert refused.value.reason == reason
        assert client.code_from_callback({"code": "c", "state": state}, state=state) == "c"


def test_a_missing_username_claim_is_refused_not_replaced_by_the_subject(provider: Provider) -> None:
    with _client(provider, username_claim="upn") as client:
        authorization, code = _signed_in_code(client, "ada")
        with pytest.raises(OidcRefused) as refused:
            client.identity(
                code=code,
                redirect_uri=REDIRECT_URI,
                code_verifier=authorization.code_verifier,
                nonce=authorization.nonce,
            )
        assert refused.value.reason == "claims" and "'upn'" in refused.value.message


def test_a_discovery_document_for_another_issuer_is_refused(provider: Provider) -> None:
    # The same server under another name: its document names the issuer it was started with.
    alias = provider.issuer.replace("127.0.0.1", "localhost")
    config = OidcConfig(issuer=alias, client_id=provider.client_id, client_secret=None)
    with OidcClient(config) as client, pytest.raises(OidcRefused) as refused:
        client.metadata()
    assert refused.value.reason == "issuer" and provider.issuer in refused.value.message


def test_a_provider_that_does_not_answer_is_unavailable_and_named() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    issuer = f"http://127.0.0.1:{port}"  # nothing listens there once the probe is closed
    config = OidcConfig(issuer=issuer, client_id="c", client_secret="s", timeout_s=2)
    started = time.monotonic()
    with OidcClient(config) as client, pytest.raises(OidcUnavailable) as unavailable:
        client.authorization(REDIRECT_URI)
    assert issuer in unavailable.value.message and "Traceback" not in unavailable.value.message
    assert unavailable.value.status == 503 and time.monotonic() - started < 5


# --- the ID-token checks, with tokens signed here ----------------------------------------------


class _KeyServer:
    """Discovery and JWKS on 127.0.0.1 for an issuer whose keys this test holds."""

    def __init__(self) -> None:
        self.keys: list[RSAKey] = []
        self.jwks_fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    body = server.discovery()
                elif self.path == "/jwks":
                    server.jwks_fetches += 1
                    body = KeySet(list(server.keys)).as_dict(private=False)
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/auth",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
        }

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture(scope="module")
def signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "key-1"}, private=True)


@pytest.fixture
def key_server(signing_key: RSAKey) -> Iterator[_KeyServer]:
    server = _KeyServer()
    server.keys.append(signing_key)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def verifier(key_server: _KeyServer) -> Iterator[OidcClient]:
    with OidcClient(OidcConfig(issuer=key_server.issuer, client_id="plimsoll", client_secret="s")) as client:
        yield client


def _claims(issuer: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer, "sub": "ada", "aud": "plimsoll", "iat": now, "exp": now + 300, "nonce": "n-1"}
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _signed(key: RSAKey, claims: dict[str, Any], *, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _refusal(verifier: OidcClient, token: str, nonce: str = "n-1") -> str:
    with pytest.raises(OidcRefused) as refused:
        verifier.verify_id_token(token, nonce=nonce)
    return refused.value.reason


def test_a_well_signed_token_for_us_passes(
    verifier: OidcClient, key_server: _KeyServer, signing_key: RSAKey
) -> None:
    claims = verifier.verify_id_token(_signed(signing_key, _claims(key_server.issuer)), nonce="n-1")
    assert claims["sub"] == "ada"
    several = _claims(key_server.issuer, aud=["plimsoll", "other"], azp="plimsoll")
    assert verifier.verify_id_token(_signed(signing_key, several), nonce="n-1")["azp"] == "plimsoll"
    late_within_leeway = _claims(key_server.issuer, exp=int(time.time()) - 30)
    assert verifier.verify_id_token(_signed(signing_key, late_within_leeway), nonce="n-1")


def test_each_wrong_claim_is_refused_with_its_reason(
    verifier: OidcClient, key_server: _KeyServer, signing_key: RSAKey
) -> None:
    now, issuer = int(time.time()), key_server.issuer
    cases = {
        "issuer": _claims(issuer, iss="http://127.0.0.1:1"),
        "audience": _claims(issuer, aud="another-client"),
        "expired": _claims(issuer, iat=now - 7200, exp=now - 3600),
        "not_yet_valid": _claims(issuer, iat=now + 3600, exp=now + 7200),
    }
    for reason, claims in cases.items():
        assert _refusal(verifier, _signed(signing_key, claims)) == reason, reason
    several_without_azp = _claims(issuer, aud=["plimsoll", "other"])
    assert _refusal(verifier, _signed(signing_key, several_without_azp)) == "audience"
    another_party = _claims(issuer, aud=["plimsoll", "other"], azp="other")
    assert _refusal(verifier, _signed(signing_key, another_party)) == "audience"
    assert _refusal(verifier, _signed(signing_key, _claims(issuer)), nonce="another") == "nonce"
    assert _refusal(verifier, _signed(signing_key, _claims(issuer, nonce=None))) == "nonce"
    assert _refusal(verifier, _signed(signing_key, _claims(issuer, exp=None))) == "claims"


def test_a_token_signed_by_anyone_else_is_refused(
    verifier: OidcClient, key_server: _KeyServer, signing_key: RSAKey
) -> None:
    claims = _claims(key_server.issuer)
    impostor = RSAKey.generate_key(2048, parameters={"kid": signing_key.kid}, private=True)
    assert _refusal(verifier, _signed(impostor, claims)) == "signature"

    def compact(header: dict[str, Any], signing_key: bytes | None) -> str:
        parts = [json.dumps(header).encode(), json.dumps(claims).encode()]
        signing_input = ".".join(_b64(part) for part in parts)
        if signing_key is None:
            return signing_input + "."
        return signing_input + "." + _b64(hmac.digest(signing_key, signing_input.encode(), "sha256"))

    assert _refusal(verifier, compact({"alg": "none", "kid": signing_key.kid}, None)) == "signature"
    # HS256 keyed with the provider's public key, which anyone can fetch from its JWKS (crafted by
    # hand: joserfc itself refuses to make such a key).
    public_pem = signing_key.as_pem(private=False)
    assert _refusal(verifier, compact({"alg": "HS256", "kid": signing_key.kid}, public_pem)) == "signature"
    assert _refusal(verifier, "not.a.jwt") == "signature"


def test_an_unknown_key_id_fetches_the_keys_again_once(
    verifier: OidcClient, key_server: _KeyServer, signing_key: RSAKey
) -> None:
    claims = _claims(key_server.issuer)
    assert verifier.verify_id_token(_signed(signing_key, claims), nonce="n-1")
    assert key_server.jwks_fetches == 1
    stranger = RSAKey.generate_key(2048, parameters={"kid": "key-unknown"}, private=True)
    assert _refusal(verifier, _signed(stranger, claims)) == "signature"
    assert key_server.jwks_fetches == 2

    rotated = RSAKey.generate_key(2048, parameters={"kid": "key-2"}, private=True)
    key_server.keys[:] = [rotated]  # the provider rotated its keys after we fetched them
    assert verifier.verify_id_token(_signed(rotated, claims), nonce="n-1")["sub"] == "ada"
    assert key_server.jwks_fetches == 3
    assert verifier.verify_id_token(_signed(rotated, claims), nonce="n-1")
    assert key_server.jwks_fetches == 3


# --- role mapping ------------------------------------------------------------------------------


def test_groups_map_to_site_admin_and_the_highest_role_per_project() -> None:
    mapping = role_mapping(
        "ml-admins=site-admin, ml-team=default:contributor, ml-team=vision:viewer,\n"
        "vision-leads=vision:approver, cn=ops=default:viewer"
    )
    assert mapping.grants(["ml-admins"]) == (True, {})
    assert mapping.grants(["ml-team", "vision-leads"]) == (
        False,
        {"default": Role.CONTRIBUTOR, "vision": Role.APPROVER},
    )
    assert mapping.grants(["strangers"]) == (False, {})
    assert role_mapping("") == RoleMapping() and role_mapping(" , ").grants(["x"]) == (False, {})


@pytest.mark.parametrize(
    ("text", "entry"),
    [
        ("ml-team", "ml-team"),
        ("ml-team=default", "ml-team=default"),
        ("ml-team=default:owner", "ml-team=default:owner"),
        ("=default:viewer", "=default:viewer"),
        ("ml-team=:viewer", "ml-team=:viewer"),
        ("ok=default:viewer, ml-team=site_admin", "ml-team=site_admin"),
    ],
)
def test_a_bad_role_mapping_names_the_setting_and_the_entry(text: str, entry: str) -> None:
    with pytest.raises(InvalidParameter) as bad:
        role_mapping(text)
    assert bad.value.field == "PLIMSOLL_OIDC_ROLES" and repr(entry) in bad.value.message


def test_a_provider_error_in_the_callback_is_shown_only_as_a_known_code() -> None:
    with OidcClient(
        OidcConfig(issuer="https://id.example", client_id="plimsoll", client_secret="s")
    ) as client:
        with pytest.raises(OidcRefused) as declined:
            client.code_from_callback({"state": "s1", "error": "access_denied"}, state="s1")
        assert declined.value.reason == "provider_error" and "(access_denied)" in declined.value.message
        # anyone can put text into such a link: it never reaches the page
        spoof = "Your account is locked, call +1 555 0100"
        with pytest.raises(OidcRefused) as spoofed:
            client.code_from_callback({"state": "s1", "error": spoof}, state="s1")
        assert spoof not in spoofed.value.message and "did not sign you in" in spoofed.value.message
