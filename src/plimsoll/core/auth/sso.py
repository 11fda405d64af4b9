"""Single sign-on: the server's side of an OpenID Connect sign-in, around `oidc.OidcClient`.

    sso = SingleSignOn(db, outbox, sign_in, settings.oidc)
    url = sso.begin(redirect_uri, next_path="/runs")          # send the browser there
    new, next_path = sso.finish(callback_query, redirect_uri)  # NewSession for the cookie

`begin` keeps the request's state (by its hash), nonce and PKCE verifier in the database, so the
callback may reach any replica, with the hash of a secret held in the starting browser's cookie;
`finish` takes that record only for that browser (a link to someone else's callback, the login
CSRF of single sign-on, finds nothing) and only once (a replayed response finds nothing), has the client check the response and the ID token, and then, in one transaction, finds
the user by the provider's (issuer, subject), or links or creates one, brings the roles mapped
from the groups claim up to date, and starts a session. Every refusal is audited.

Users are keyed by (issuer, subject), never by name alone: a first sign-in whose user name is
already a local user's is refused unless `link_existing` is set, so that an identity provider
cannot take over a local account (the bootstrap admin, say) by asserting its name.

Roles: with a mapping (`PLIMSOLL_OIDC_ROLES`), the roles it grants are kept in step with the
groups at every sign-in (granted as `sso`, taken away when the group goes); a higher role granted
by an admin is left alone. Site admin follows the mapping's site-admin groups for linked users
(never taking it from the last enabled site admin).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import replace

from plimsoll.core.audit import AuditEntry
from plimsoll.core.auth import store
from plimsoll.core.auth.entities import NewSession, SignInMethod, User, UserKind
from plimsoll.core.auth.oidc import Identity, OidcClient, OidcConfig, OidcRefused, role_mapping
from plimsoll.core.auth.service import RESERVED_USER_NAMES, grant_in, revoke_in
from plimsoll.core.auth.sessions import SSO_REQUEST_TTL_MS, SignInService
from plimsoll.core.changes import Change, changing
from plimsoll.core.config import OidcSettings
from plimsoll.core.db import Database
from plimsoll.core.errors import InvalidParameter, PlimsollError
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects.service import ProjectService
from plimsoll.core.validation import check_name

log = logging.getLogger("plimsoll.auth.sso")

MAX_NEXT_PATH_LENGTH = 2048


def _state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class SingleSignOn:
    def __init__(
        self,
        db: Database,
        events: Outbox,
        sign_in: SignInService,
        settings: OidcSettings,
        *,
        client: OidcClient | None = None,
    ) -> None:
        self.db = db
        self.events = events
        self.sign_in = sign_in
        self.settings = settings
        self.mapping = role_mapping(settings.roles)  # a bad mapping stops the server at start
        self.client = client or OidcClient(
            OidcConfig(
                issuer=settings.issuer,
                client_id=settings.client_id,
                client_secret=settings.client_secret,
                scopes=settings.scopes,
                username_claim=settings.username_claim,
                groups_claim=settings.groups_claim,
            )
        )

    @property
    def label(self) -> str:
        return self.settings.label

    def begin(self, redirect_uri: str, *, next_path: str, browser: str) -> str:
        """The provider's authorization URL to send the browser to; the request is remembered
        until its callback (for `SSO_REQUEST_TTL_MS`), for the browser holding `browser` (a secret
        the caller keeps in that browser's cookie)."""
        authorization = self.client.authorization(redirect_uri)
        with self.db.write() as conn:
            store.insert_sso_request(
                conn,
                state_hash=_state_hash(authorization.state),
                browser_hash=_state_hash(browser),
                nonce=authorization.nonce,
                code_verifier=authorization.code_verifier,
                next_path=next_path[:MAX_NEXT_PATH_LENGTH],
                created_at=now_ms(),
            )
        return authorization.url

    def finish(
        self,
        params: Mapping[str, str],
        redirect_uri: str,
        *,
        browser: str,
        address: str | None = None,
        user_agent: str | None = None,
    ) -> tuple[NewSession, str]:
        """Check the provider's callback, which must come to the browser that began the sign-in
        (`browser`, from its cookie), and start a session: (the new session, where to go). An
        OidcRefused (audited) when anything is wrong; OidcUnavailable when the provider is down."""
        try:
            return self._finish(params, redirect_uri, browser, address, user_agent)
        except OidcRefused as refusal:
            self._audit_refusal(refusal.reason, refusal.message, address)
            raise

    def _finish(
        self,
        params: Mapping[str, str],
        redirect_uri: str,
        browser: str,
        address: str | None,
        user_agent: str | None,
    ) -> tuple[NewSession, str]:
        state = params.get("state") or ""
        with self.db.write() as conn:
            pending = (
                store.take_sso_request(conn, _state_hash(state), _state_hash(browser)) if state else None
            )
        if pending is None:
            raise OidcRefused(
                "this sign-in answer is not one this browser asked for, or it was used already; sign in again",
                details={"reason": "state"},
            )
        if now_ms() - int(pending.created_at) > SSO_REQUEST_TTL_MS:
            raise OidcRefused("this sign-in took too long; sign in again", details={"reason": "expired"})
        code = self.client.code_from_callback(params, state=state)
        identity = self.client.identity(
            code=code,
            redirect_uri=redirect_uri,
            code_verifier=str(pending.code_verifier),
            nonce=str(pending.nonce),
        )
        with changing(self.db, self.events, identity.username) as change:
            user = self._user_for(change, identity)
            if self.mapping.project_roles or self.mapping.site_admin_groups:
                user = self._sync_roles(change, user, identity.groups)
            session = self.sign_in.start(change, user, SignInMethod.OIDC, address, user_agent)
        return session, str(pending.next_path)

    def _user_for(self, change: Change, identity: Identity) -> User:
        conn, now = change.conn, now_ms()
        linked = store.identity_user(conn, identity.issuer, identity.subject)
        if linked is not None:
            user = store.get_user(conn, linked)
            if user is None:  # the foreign key cascades; defensive against a half-deleted user
                raise OidcRefused("your account is gone; ask a site admin", details={"reason": "claims"})
            store.touch_identity(conn, identity.issuer, identity.subject, now)
        else:
            user = self._first_sign_in(change, identity)
        if user.disabled:
            raise OidcRefused(
                f"user {user.name!r} is disabled; ask a site admin to enable them",
                details={"reason": "disabled"},
            )
        if user.is_service:
            raise OidcRefused(
                f"{user.name!r} is a service account; it cannot sign in", details={"reason": "claims"}
            )
        if (identity.email, identity.display_name) != (user.email, user.display_name):
            store.set_profile(conn, user.name, email=identity.email, display_name=identity.display_name)
            change.audit(
                AuditEntry(
                    change.actor,
                    "user.profile",
                    "user",
                    user.name,
                    before={"email": user.email, "display_name": user.display_name},
                    after={"email": identity.email, "display_name": identity.display_name},
                )
            )
            user = replace(user, email=identity.email, display_name=identity.display_name)
        return user

    def _first_sign_in(self, change: Change, identity: Identity) -> User:
        name = identity.username
        try:
            check_name("name", name, max_length=128)
        except InvalidParameter as error:
            raise OidcRefused(
                f"the provider's user name {name[:80]!r} cannot be a Plimsoll user name: {error.message}",
                details={"reason": "claims"},
            ) from None
        if name in RESERVED_USER_NAMES:
            raise OidcRefused(f"the user name {name!r} is reserved", details={"reason": "claims"})
        conn, now = change.conn, now_ms()
        existing = store.get_user(conn, name)
        if existing is not None:
            if not self.settings.link_existing or existing.is_service or store.identities_of(conn, name):
                raise OidcRefused(
                    f"a Plimsoll user named {name!r} already exists and is not linked to this identity "
                    "provider; a site admin can allow linking (PLIMSOLL_OIDC_LINK_EXISTING=1)",
                    details={"reason": "link"},
                )
            user = existing
        elif not self.settings.create_users:
            raise OidcRefused(
                f"there is no Plimsoll user {name!r} and this server does not create users at sign-in; "
                "ask a site admin",
                details={"reason": "no_user"},
            )
        else:
            user = User(
                name=name,
                is_admin=False,
                created_at=now,
                kind=UserKind.PERSON,
                email=identity.email,
                display_name=identity.display_name,
            )
            store.insert_user(conn, user)
            after = {"is_admin": False, "kind": "person", "via": "sso", "issuer": identity.issuer}
            change.audit(AuditEntry(change.actor, "user.create", "user", name, after=after))
            change.emit("user.created", f"user:{name}", {"user": name, "is_admin": False}, project=None)
        store.link_identity(conn, identity.issuer, identity.subject, name, now)
        change.audit(
            AuditEntry(
                change.actor,
                "user.link_identity",
                "user",
                name,
                after={"issuer": identity.issuer, "subject": identity.subject},
            )
        )
        return user

    def _sync_roles(self, change: Change, user: User, groups: tuple[str, ...]) -> User:
        conn = change.conn
        site_admin, mapped = self.mapping.grants(groups)
        held = store.role_sources(conn, user.name)
        for project, role in sorted(mapped.items()):
            if not ProjectService.exists_in(conn, project):
                log.warning("PLIMSOLL_OIDC_ROLES names project %r, which does not exist; skipped", project)
                continue
            current = held.get(project)
            if current is None or (current[1] == "sso" and current[0] is not role) or current[0] < role:
                grant_in(change, project, user.name, role, source="sso")
        for project, (role, source) in sorted(held.items()):
            if source == "sso" and project not in mapped:
                revoke_in(change, project, user.name, role)
        if self.mapping.site_admin_groups and site_admin != user.is_admin:
            if not site_admin and store.enabled_admins(conn, lock=True) == [user.name]:
                log.warning("SSO would take site admin from %r, the last enabled site admin; kept", user.name)
                return user
            store.set_site_admin(conn, user.name, site_admin)
            change.audit(
                AuditEntry(
                    change.actor,
                    "user.site_admin",
                    "user",
                    user.name,
                    before={"is_admin": user.is_admin},
                    after={"is_admin": site_admin, "source": "sso"},
                )
            )
            change.emit(
                "user.admin_changed",
                f"user:{user.name}",
                {"user": user.name, "is_admin": site_admin},
                project=None,
            )
            return replace(user, is_admin=site_admin)
        return user

    def _audit_refusal(self, reason: str, message: str, address: str | None) -> None:
        try:
            with changing(self.db, self.events, "anonymous") as change:
                change.audit(
                    AuditEntry(
                        "anonymous",
                        "session.sso_refused",
                        "sso",
                        self.settings.issuer[:128],
                        after={"reason": reason, "message": message[:300], "address": address},
                    )
                )
        except PlimsollError:  # the refusal stands either way; losing its audit entry is logged
            log.exception("could not audit a refused single sign-on (%s)", reason)
