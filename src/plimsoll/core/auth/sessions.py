"""Signing in to the web UI: passwords, browser sessions, and the brake on guessing.

    sign_in = SignInService(db, outbox, SessionPolicy())
    sign_in.set_password("ada", "a long passphrase here", actor="local")
    new = sign_in.with_password("ada", "a long passphrase here", address="10.0.0.7")
    new.secret                                   # -> the cookie's value, shown this once
    sign_in.identify(new.secret)                  # -> SessionCredential (user, session, CSRF token)
    sign_in.sign_out(new.credential.session.id, actor="ada")

What each rule defends against (docs/security.md, "Sign-in"):

- a session is a server-side record named by a random secret whose sha256 alone is stored: it can
  be listed and ended, and a copy of the database does not hold working cookies;
- it ends after `idle_ms` without a request and `max_ms` after it started, whatever happens;
  disabling a user ends their sessions at once, and a changed password ends the others;
- every failed sign-in counts against the account name (whether or not it exists) and the client
  address; past a few, each further try must wait twice as long as the last (up to a cap), so a
  guesser gets a handful of tries an hour while the real user, who signs in at the first or second
  try, never notices; the refusal is the same for a wrong password and for a user that does not
  exist, and takes as long;
- each session has its own CSRF token, which every state-changing request made with the cookie
  must carry (the guard checks it: `core/auth/api.py`).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace

from plimsoll.core.audit import AuditEntry
from plimsoll.core.auth import store
from plimsoll.core.auth.entities import NewSession, Session, SessionCredential, SignInMethod, User, refused
from plimsoll.core.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    check_password,
    hash_password,
    needs_rehash,
    temporary_password,
    verify_password,
)
from plimsoll.core.changes import Change, changing
from plimsoll.core.db import Connection, Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, TooManyRequests, Unauthenticated
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.validation import check_name

SESSION_PREFIX = "pls_"
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
# `last_seen_at` is written at most this often: a page view is a read.
LAST_SEEN_RESOLUTION_MS = MINUTE_MS
MAX_USER_AGENT_LENGTH = 256
MAX_ADDRESS_LENGTH = 64

# Why a session cookie was refused (the `reason` in an Unauthenticated's details, counted in
# /metrics beside the token reasons).
SESSION_UNKNOWN = "session_unknown"
SESSION_ENDED = "session_ended"
SESSION_EXPIRED = "session_expired"
SESSION_IDLE = "session_idle"
SESSION_REASONS = (SESSION_UNKNOWN, SESSION_ENDED, SESSION_EXPIRED, SESSION_IDLE)

# What a failed sign-in was, for the audit log only: the person signing in is told none of it.
WRONG_PASSWORD = "wrong_password"
NO_SUCH_USER = "no_such_user"
NO_PASSWORD = "no_password"
DISABLED = "disabled"
SERVICE_ACCOUNT = "service_account"

SIGN_IN_REFUSED = "wrong user name or password"


class _Braked(Exception):
    """Rolls back the counting of a try that was braked."""


# A single sign-on must come back from the provider within this.
SSO_REQUEST_TTL_MS = 10 * MINUTE_MS


@dataclass(frozen=True)
class SessionPolicy:
    """How long sessions live, and how hard guessing is braked."""

    idle_ms: int = 60 * MINUTE_MS
    max_ms: int = 12 * HOUR_MS
    # Failures allowed before the first delay, per account name and per address (an office behind
    # one address holds many people who mistype).
    account_free_failures: int = 5
    address_free_failures: int = 20
    first_delay_ms: int = 1_000
    max_delay_ms: int = 15 * MINUTE_MS
    # A run of failures is forgotten this long after the last one.
    failure_memory_ms: int = HOUR_MS

    def delay_after(self, failures: int, free: int) -> int:
        """How long the next try must wait after `failures` in a row: nothing after the first
        `free`, then 1 s, 2 s, 4 s … up to `max_delay_ms`."""
        if failures <= free:
            return 0
        return int(min(self.first_delay_ms * 2 ** min(failures - free - 1, 40), self.max_delay_ms))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _account_key(name: str) -> str:
    # Case-folded and cut, so that "Ada", "ADA " and a 10 kB name all count against one key.
    return "account:" + _storable(name.strip().casefold())[:150]


def _storable(name: str) -> str:
    """`name`, or for a name no user can have (NUL, a lone surrogate, ...) a digest of it: what the
    audit log and the failure counts keep of a sign-in attempt, in any database."""
    if _could_be_a_user(name):
        return name
    return "invalid-name-" + hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:24]


def _address_key(address: str | None) -> str:
    return "address:" + (address or "unknown")[:MAX_ADDRESS_LENGTH]


def _could_be_a_user(name: str) -> bool:
    """Whether `name` is worth looking up: a name no user can have (NUL, a lone surrogate, over
    the length) is not sent to a database that would refuse to compare it."""
    try:
        check_name("name", name, max_length=128)
    except InvalidParameter:
        return False
    return True


def _clip(text: str | None, limit: int) -> str | None:
    return None if text is None else text[:limit]


class SignInService:
    def __init__(self, db: Database, events: Outbox, policy: SessionPolicy | None = None) -> None:
        self.db = db
        self.events = events
        self.policy = policy or SessionPolicy()
        self.clock: Callable[[], int] = now_ms  # ms since the epoch; tests move time by hand

    # -- passwords -----------------------------------------------------------------------------

    def set_password(self, name: str, password: str, *, actor: str, must_change: bool = False) -> User:
        """Give `name` a password (replacing any), and end their sessions: whoever knew the old
        one is signed out. `must_change`: they must choose their own at the next sign-in."""
        check_password(password, user=name)
        hashed = hash_password(password)  # slow on purpose: before the transaction, not in it
        with changing(self.db, self.events, actor) as change:
            user = self._person(change.conn, name)
            store.set_password_hash(change.conn, name, hashed, must_change=must_change)
            self._end_all(change, name, reason="password_changed")
            change.audit(
                AuditEntry(actor, "user.password_set", "user", name, after={"must_change": must_change})
            )
        return replace(user, has_password=True, must_change_password=must_change)

    def reset_password(self, name: str, *, actor: str) -> str:
        """A temporary password for `name` (shown to the admin once), which they must change at
        their next sign-in; their sessions end."""
        password = temporary_password()
        while name.casefold() in password.casefold():  # the policy refuses it; vanishingly rare
            password = temporary_password()
        self.set_password(name, password, actor=actor, must_change=True)
        return password

    def change_password(self, user: User, current: str, new: str, *, session_id: str | None) -> None:
        """`user` replaces their own password, proving they know the current one; their other
        sessions end, the one they are using (`session_id`) stays."""
        check_password(new, user=user.name, field="new_password")
        if current == new:
            raise InvalidParameter("new_password", "must differ from the current password")
        account = _account_key(user.name)
        self._charge([account], (self.policy.account_free_failures,))  # the same brake as sign-in
        with self.db.read() as conn:
            stored = store.password_hash(conn, user.name)
        if not verify_password(stored, current):
            raise InvalidParameter("current_password", "is not your current password")
        hashed = hash_password(new)
        with changing(self.db, self.events, user.name) as change:
            store.clear_failures(change.conn, account)
            store.set_password_hash(change.conn, user.name, hashed, must_change=False)
            self._end_all(change, user.name, reason="password_changed", keep=session_id)
            change.audit(AuditEntry(user.name, "user.password_change", "user", user.name))

    # -- signing in ----------------------------------------------------------------------------

    def with_password(
        self, name: str, password: str, *, address: str | None = None, user_agent: str | None = None
    ) -> NewSession:
        """A new session for `name`, or the same Unauthenticated whatever was wrong (a
        TooManyRequests, saying when to try again, while failures brake this account or address)."""
        keys = [_account_key(name), _address_key(address)]
        # Counted as a failure before the password is checked, so that tries in flight together
        # count against each other (a burst cannot slip past the brake); given back on success.
        self._charge(keys, (self.policy.account_free_failures, self.policy.address_free_failures))
        with self.db.read() as conn:
            user = store.get_user(conn, name) if _could_be_a_user(name) else None
            stored = None if user is None else store.password_hash(conn, name)
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            password = ""  # matches nothing, after the same work
        matched = verify_password(stored, password)
        problem = self._sign_in_problem(user, stored, matched)
        if problem is not None or user is None:
            self._failed(name, problem or NO_SUCH_USER, address)
            raise Unauthenticated(SIGN_IN_REFUSED, details={"reason": "sign_in_failed"})
        rehash = hash_password(password) if stored is not None and needs_rehash(stored) else None
        with changing(self.db, self.events, user.name) as change:
            store.clear_failures(change.conn, keys[0])
            self._give_back(change.conn, keys[1], self.policy.address_free_failures)
            if rehash is not None:
                store.set_password_hash(change.conn, user.name, rehash, must_change=user.must_change_password)
            return self.start(change, user, SignInMethod.PASSWORD, address, user_agent)

    @staticmethod
    def _sign_in_problem(user: User | None, stored: str | None, matched: bool) -> str | None:
        if user is None:
            return NO_SUCH_USER
        if stored is None:
            return SERVICE_ACCOUNT if user.is_service else NO_PASSWORD
        if not matched:
            return WRONG_PASSWORD
        if user.disabled:
            return DISABLED
        return None

    def start(
        self, change: Change, user: User, method: SignInMethod, address: str | None, user_agent: str | None
    ) -> NewSession:
        """Inside a change: a new session for `user` (password and single sign-on alike)."""
        if user.is_service:
            raise Conflict(f"{user.name!r} is a service account; service accounts cannot sign in")
        now = self.clock()
        secret = SESSION_PREFIX + secrets.token_urlsafe(30)
        csrf_token = secrets.token_urlsafe(32)
        session = Session(
            id=new_id(),
            user=user.name,
            method=method,
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.policy.max_ms,
            address=_clip(address, MAX_ADDRESS_LENGTH),
            user_agent=_clip(user_agent, MAX_USER_AGENT_LENGTH),
        )
        store.insert_session(change.conn, session, hash_secret(secret), csrf_token)
        change.audit(
            AuditEntry(
                change.actor,
                "session.start",
                "session",
                session.id,
                after={"user": user.name, "method": method.value, "address": session.address},
            )
        )
        return NewSession(SessionCredential(user, session, csrf_token), secret)

    def _charge(self, keys: list[str], free: tuple[int, ...]) -> None:
        """Count a try against each key, and set when the next may come; a TooManyRequests (and
        nothing counted) while any key is braked. One transaction: concurrent tries are serialised
        on the keys' rows, each seeing the others' counts."""
        now = self.clock()
        policy = self.policy
        waits: list[int] = []
        try:
            with self.db.write() as conn:
                for key, allowed in zip(keys, free, strict=True):
                    count, blocked_until = store.count_failure(
                        conn, key, now, forget_before=now - policy.failure_memory_ms
                    )
                    if blocked_until > now:
                        waits.append(blocked_until - now)
                    store.block_until(conn, key, now + policy.delay_after(count, allowed))
                if waits:
                    raise _Braked
        except _Braked:
            seconds = max(1, -(-max(waits) // 1000))
            raise TooManyRequests(
                f"too many failed sign-ins; try again in {seconds} s", details={"retry_after": seconds}
            ) from None

    def _give_back(self, conn: Connection, key: str, free: int) -> None:
        """Undo a try's charge on `key` (it succeeded)."""
        count = store.uncount_failure(conn, key)
        if count is not None:
            store.block_until(conn, key, self.clock() + self.policy.delay_after(count, free) if count else 0)

    def _failed(self, name: str, problem: str, address: str | None) -> None:
        with changing(self.db, self.events, "anonymous") as change:
            change.audit(
                AuditEntry(
                    "anonymous",
                    "session.sign_in_failed",
                    "user",
                    _storable(name)[:128],
                    after={"reason": problem, "address": _clip(address, MAX_ADDRESS_LENGTH)},
                )
            )

    # -- sessions ------------------------------------------------------------------------------

    def identify(self, secret: str) -> SessionCredential:
        """The user and session a cookie's secret belongs to; Unauthenticated (with its `reason`)
        when there is none, it ended, it expired or it sat idle too long. A disabled user's
        sessions are ended at once."""
        if not isinstance(secret, str) or not secret.startswith(SESSION_PREFIX):
            raise refused(SESSION_UNKNOWN, "not a Plimsoll session; sign in again")
        with self.db.read() as conn:
            row = store.session_by_hash(conn, hash_secret(secret))
        if row is None:
            raise refused(SESSION_UNKNOWN, "this session is not known; sign in again")
        user = store.user_of(row)
        session = store.session_of(row, user.name)
        now = self.clock()
        if session.ended_at is not None:
            raise refused(SESSION_ENDED, "you were signed out; sign in again", session_id=session.id)
        if user.disabled or user.is_service:
            self._end(session, reason="user_disabled", actor="system")
            raise refused(SESSION_ENDED, "you were signed out; sign in again", session_id=session.id)
        if now >= session.expires_at:
            raise refused(SESSION_EXPIRED, "your session has expired; sign in again", session_id=session.id)
        if now >= session.idle_until(self.policy.idle_ms):
            raise refused(
                SESSION_IDLE,
                "you were signed out after a while without activity; sign in again",
                session_id=session.id,
            )
        if now - session.last_seen_at >= LAST_SEEN_RESOLUTION_MS:
            with self.db.write() as conn:
                store.touch_session(conn, session.id, now)
            session = replace(session, last_seen_at=now)
        return SessionCredential(user, session, str(row.csrf_token))

    def sessions(self, user: str, *, open_only: bool = True) -> list[Session]:
        """The sessions of `user`, newest first (by default only those still open)."""
        now = self.clock()
        with self.db.read() as conn:
            if store.get_user(conn, user) is None:
                raise NotFound(f"user {user!r} not found")
            found = store.sessions_of(conn, user, open_after=now if open_only else None)
        if open_only:
            found = [s for s in found if now < s.idle_until(self.policy.idle_ms)]
        return found

    def sign_out(self, session_id: str, *, actor: str) -> None:
        with self.db.read() as conn:
            session = store.get_session(conn, session_id)
        if session is not None and session.ended_at is None:
            self._end(session, reason="signed_out", actor=actor)

    def end_session(self, user: str, session_id: str, *, actor: str) -> Session:
        """End one of `user`'s sessions (NotFound when it is not theirs: ids are not a secret)."""
        with self.db.read() as conn:
            session = store.get_session(conn, session_id)
        if session is None or session.user != user:
            raise NotFound(f"session {session_id!r} of user {user!r} not found")
        if session.ended_at is not None:
            return session
        return self._end(session, reason="revoked", actor=actor)

    def end_sessions_of(self, user: str, *, actor: str, reason: str) -> int:
        with changing(self.db, self.events, actor) as change:
            return self._end_all(change, user, reason=reason)

    def _end(self, session: Session, *, reason: str, actor: str) -> Session:
        with changing(self.db, self.events, actor) as change:
            ended = store.end_sessions(
                change.conn, user=session.user, ended_at=self.clock(), reason=reason, session_id=session.id
            )
            if ended:
                change.audit(
                    AuditEntry(
                        actor,
                        "session.end",
                        "session",
                        session.id,
                        after={"user": session.user, "reason": reason},
                    )
                )
        return replace(session, ended_at=self.clock(), end_reason=reason)

    @staticmethod
    def _end_all(change: Change, user: str, *, reason: str, keep: str | None = None) -> int:
        ended = store.end_sessions(change.conn, user=user, ended_at=now_ms(), reason=reason, keep=keep)
        if ended:
            change.audit(
                AuditEntry(
                    change.actor,
                    "session.end_all",
                    "user",
                    user,
                    after={"sessions": len(ended), "reason": reason},
                )
            )
        return len(ended)

    @staticmethod
    def _person(conn: Connection, name: str) -> User:
        user = store.get_user(conn, name)
        if user is None:
            raise NotFound(f"user {name!r} not found")
        if user.is_service:
            raise InvalidParameter(
                "name", f"{name!r} is a service account; service accounts have no password"
            )
        return user

    # -- upkeep --------------------------------------------------------------------------------

    def purge(self, cutoff: int, *, dry_run: bool = False) -> dict[str, int]:
        """Forget sessions that ended or expired before `cutoff` (how many: `sessions`), failure
        counts long stale, and single sign-ons never finished."""
        if dry_run:
            with self.db.read() as conn:
                return {"sessions": store.count_sessions_before(conn, cutoff)}
        now = self.clock()
        with self.db.write() as conn:
            removed = store.delete_sessions_before(conn, cutoff)
            store.delete_failures_before(conn, now - 2 * self.policy.failure_memory_ms)
            store.delete_sso_requests_before(conn, now - SSO_REQUEST_TTL_MS)
        return {"sessions": removed}
