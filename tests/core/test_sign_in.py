"""Signing in to the web UI, at the service: passwords, sessions and their timeouts, the brake on
guessing, service accounts and tokens bound to one project. Both backends, through `db`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from plimsoll.core import audit
from plimsoll.core.auth.entities import Role, SignInMethod
from plimsoll.core.auth.passwords import MIN_PASSWORD_LENGTH, hash_password, verify_password
from plimsoll.core.auth.service import AuthService
from plimsoll.core.auth.sessions import SessionPolicy, SignInService, hash_secret
from plimsoll.core.auth.store import user_sessions, users
from plimsoll.core.db import Database
from plimsoll.core.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    TooManyRequests,
    Unauthenticated,
)
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects.store import projects
from plimsoll.platform import event_catalog

PASSWORD = "correct horse battery staple"


def _services(db: Database, policy: SessionPolicy) -> Iterator[AuthService]:
    outbox = Outbox(db, event_catalog())
    try:
        auth = AuthService(db, outbox, sign_in=SignInService(db, outbox, policy))
        auth.bootstrap_admin("root")
        with db.write() as conn:
            for name in ("a", "b"):
                conn.execute(projects.insert().values(name=name, description="", created_at=now_ms()))
        yield auth
    finally:
        outbox.close()


@pytest.fixture
def auth(db: Database) -> Iterator[AuthService]:
    yield from _services(db, SessionPolicy())


def _person(auth: AuthService, name: str = "ada", **roles: Role) -> None:
    auth.create_user(name, actor="root")
    for project, role in roles.items():
        auth.grant(project, name, role, actor="root")
    auth.sign_in.set_password(name, PASSWORD, actor="root")


def _audit_actions(db: Database) -> list[tuple[str, str, dict[str, object] | None]]:
    with db.read() as conn:
        return [(e.action, e.resource_id, e.after) for e in audit.list_events(conn)]


# -- passwords -------------------------------------------------------------------------------------


def test_passwords_are_stored_as_argon2id_and_checked_in_constant_work() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(hashed, PASSWORD)
    assert not verify_password(hashed, PASSWORD + "!")
    assert not verify_password(None, PASSWORD)  # no hash: no, after the same work
    assert not verify_password("not a hash", PASSWORD)


@pytest.mark.parametrize(
    ("password", "said"),
    [
        ("short one", f"at least {MIN_PASSWORD_LENGTH} characters"),
        ("x" * 257, "at most 256"),
        ("ada-is-my-name-here", "must not contain the user name"),
        ("abababababababababab", "at least 4 different"),
        ("nul\x00inside a long password", "NUL"),
    ],
)
def test_a_weak_password_is_refused_naming_the_rule(auth: AuthService, password: str, said: str) -> None:
    auth.create_user("ada", actor="root")
    with pytest.raises(InvalidParameter, match=said) as refused:
        auth.sign_in.set_password("ada", password, actor="root")
    assert refused.value.field == "password"


def test_sign_in_with_a_password_starts_a_session(db: Database, auth: AuthService) -> None:
    _person(auth, a=Role.VIEWER)
    new = auth.sign_in.with_password("ada", PASSWORD, address="10.0.0.7", user_agent="Firefox")
    session = new.credential.session
    assert new.secret.startswith("pls_") and new.secret not in repr(new)
    assert session.method is SignInMethod.PASSWORD and session.address == "10.0.0.7"
    assert session.expires_at - session.created_at == SessionPolicy().max_ms
    # only its hash is stored
    with db.read() as conn:
        row = conn.execute(sa.select(user_sessions).where(user_sessions.c.id == session.id)).one()
    assert row.secret_hash == hash_secret(new.secret) and new.secret not in repr(tuple(row))
    again = auth.sign_in.identify(new.secret)
    assert again.user.name == "ada" and again.csrf_token == new.credential.csrf_token
    assert len(again.csrf_token) >= 40
    assert [s.id for s in auth.sign_in.sessions("ada")] == [session.id]
    assert ("session.start", session.id) in [(action, target) for action, target, _ in _audit_actions(db)]


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(db: Database, auth: AuthService) -> None:
    _person(auth)
    auth.create_user("nopass", actor="root")
    answers = []
    for name, password in [("ada", "wrong " + PASSWORD), ("nobody", PASSWORD), ("nopass", PASSWORD)]:
        with pytest.raises(Unauthenticated) as refused:
            auth.sign_in.with_password(name, password)
        answers.append((refused.value.message, refused.value.details))
    assert (
        answers[0]
        == answers[1]
        == answers[2]
        == (
            "wrong user name or password",
            {"reason": "sign_in_failed"},
        )
    )
    # the audit log, which only admins read, says what really happened
    failed = [after for action, _, after in _audit_actions(db) if action == "session.sign_in_failed"]
    assert [entry["reason"] for entry in failed if entry] == ["wrong_password", "no_such_user", "no_password"]


def test_failures_brake_the_account_with_a_growing_delay(db: Database) -> None:
    policy = SessionPolicy(account_free_failures=2, address_free_failures=100, first_delay_ms=500)
    for auth in _services(db, policy):
        _person(auth)
        # Time moves by hand: a password's hash takes longer than a brake on a busy machine.
        now = [now_ms()]
        auth.sign_in.clock = lambda now=now: now[0]
        for _ in range(2):  # the free ones
            with pytest.raises(Unauthenticated):
                auth.sign_in.with_password("ada", "nope", address="10.0.0.1")
        with pytest.raises(Unauthenticated):  # the third failure starts the brake: 0.5 s
            auth.sign_in.with_password("ada", "nope", address="10.0.0.2")
        with pytest.raises(TooManyRequests) as braked:  # even the right password waits
            auth.sign_in.with_password("ADA ", PASSWORD, address="10.0.0.3")
        assert braked.value.details["retry_after"] == 1
        now[0] += 600
        with pytest.raises(Unauthenticated):  # the fourth: twice as long, 1 s
            auth.sign_in.with_password("ada", "nope")
        now[0] += 900
        with pytest.raises(TooManyRequests):
            auth.sign_in.with_password("ada", PASSWORD)
        now[0] += 200
        assert auth.sign_in.with_password("ada", PASSWORD).credential.user.name == "ada"
        # a success clears the account's count: the next mistake is free again
        with pytest.raises(Unauthenticated):
            auth.sign_in.with_password("ada", "nope")
        # a name that does not exist is braked the same way, so the brake tells nothing either
        for _ in range(3):
            with pytest.raises(Unauthenticated):
                auth.sign_in.with_password("ghost", "nope")
        with pytest.raises(TooManyRequests):
            auth.sign_in.with_password("ghost", "nope")


def test_failures_brake_an_address_trying_many_names(db: Database) -> None:
    policy = SessionPolicy(account_free_failures=100, address_free_failures=3, first_delay_ms=60_000)
    for auth in _services(db, policy):
        _person(auth)
        for index in range(4):
            with pytest.raises(Unauthenticated):
                auth.sign_in.with_password(f"guess-{index}", "nope", address="203.0.113.9")
        with pytest.raises(TooManyRequests):
            auth.sign_in.with_password("ada", PASSWORD, address="203.0.113.9")
        # another address is not braked
        assert auth.sign_in.with_password("ada", PASSWORD, address="198.51.100.1").credential


def test_a_session_ends_when_idle(db: Database) -> None:
    for auth in _services(db, SessionPolicy(idle_ms=300, max_ms=60_000)):
        _person(auth)
        idle = auth.sign_in.with_password("ada", PASSWORD)
        time.sleep(0.4)
        with pytest.raises(Unauthenticated) as refused:
            auth.sign_in.identify(idle.secret)
        assert refused.value.details["reason"] == "session_idle"
        assert auth.sign_in.sessions("ada") == []  # an idle session is not listed as open


def test_a_session_ends_at_its_absolute_expiry(db: Database) -> None:
    for auth in _services(db, SessionPolicy(idle_ms=60_000, max_ms=300)):
        _person(auth, "bea")
        short = auth.sign_in.with_password("bea", PASSWORD)
        time.sleep(0.4)
        with pytest.raises(Unauthenticated) as refused:
            auth.sign_in.identify(short.secret)
        assert refused.value.details["reason"] == "session_expired"


def test_activity_keeps_a_session_alive_until_its_absolute_expiry(db: Database) -> None:
    for auth in _services(db, SessionPolicy(idle_ms=600_000, max_ms=6_000_000)):
        _person(auth)
        new = auth.sign_in.with_password("ada", PASSWORD)
        with db.write() as conn:  # last seen two minutes ago: the next request records it again
            conn.execute(
                user_sessions.update()
                .where(user_sessions.c.id == new.credential.session.id)
                .values(last_seen_at=now_ms() - 120_000)
            )
        seen = auth.sign_in.identify(new.secret).session.last_seen_at
        assert now_ms() - seen < 5_000


def test_sign_out_and_revocation_end_sessions(db: Database, auth: AuthService) -> None:
    _person(auth)
    first = auth.sign_in.with_password("ada", PASSWORD)
    second = auth.sign_in.with_password("ada", PASSWORD)
    auth.sign_in.sign_out(first.credential.session.id, actor="ada")
    with pytest.raises(Unauthenticated) as refused:
        auth.sign_in.identify(first.secret)
    assert refused.value.details["reason"] == "session_ended"
    # another user cannot end ada's session by its id
    with pytest.raises(NotFound):
        auth.sign_in.end_session("root", second.credential.session.id, actor="root")
    auth.sign_in.end_session("ada", second.credential.session.id, actor="ada")
    with pytest.raises(Unauthenticated):
        auth.sign_in.identify(second.secret)
    assert auth.sign_in.sessions("ada") == []
    assert len(auth.sign_in.sessions("ada", open_only=False)) == 2


def test_disabling_a_user_ends_their_open_sessions_at_once(db: Database, auth: AuthService) -> None:
    _person(auth)
    new = auth.sign_in.with_password("ada", PASSWORD)
    auth.disable_user("ada", actor="root")
    with pytest.raises(Unauthenticated):
        auth.sign_in.identify(new.secret)
    with db.read() as conn:
        ended = conn.execute(sa.select(user_sessions.c.end_reason)).scalars().all()
    assert ended == ["user_disabled"]
    # and they cannot sign in again, with the same answer as a wrong password
    with pytest.raises(Unauthenticated, match="wrong user name or password"):
        auth.sign_in.with_password("ada", PASSWORD)


def test_changing_a_password_keeps_this_session_and_ends_the_others(auth: AuthService) -> None:
    _person(auth)
    here = auth.sign_in.with_password("ada", PASSWORD)
    elsewhere = auth.sign_in.with_password("ada", PASSWORD)
    user = here.credential.user
    with pytest.raises(InvalidParameter) as wrong:
        auth.sign_in.change_password(user, "not it", "a brand new passphrase", session_id=None)
    assert wrong.value.field == "current_password"
    with pytest.raises(InvalidParameter) as same:
        auth.sign_in.change_password(user, PASSWORD, PASSWORD, session_id=None)
    assert same.value.field == "new_password"
    auth.sign_in.change_password(
        user, PASSWORD, "a brand new passphrase", session_id=here.credential.session.id
    )
    assert auth.sign_in.identify(here.secret).user.name == "ada"
    with pytest.raises(Unauthenticated):
        auth.sign_in.identify(elsewhere.secret)
    with pytest.raises(Unauthenticated):
        auth.sign_in.with_password("ada", PASSWORD)
    assert auth.sign_in.with_password("ada", "a brand new passphrase")


def test_a_reset_password_is_temporary(db: Database, auth: AuthService) -> None:
    _person(auth)
    old = auth.sign_in.with_password("ada", PASSWORD)
    temporary = auth.sign_in.reset_password("ada", actor="root")
    with pytest.raises(Unauthenticated):  # the reset ended their sessions
        auth.sign_in.identify(old.secret)
    signed_in = auth.sign_in.with_password("ada", temporary).credential.user
    assert signed_in.must_change_password
    with db.read() as conn:
        stored = conn.execute(sa.select(users.c.password_hash).where(users.c.name == "ada")).scalar_one()
    assert temporary not in stored
    auth.sign_in.change_password(signed_in, temporary, "my own passphrase now", session_id=None)
    assert not auth.get_user("ada").must_change_password


# -- service accounts and bound tokens -----------------------------------------------------------


def test_a_service_account_acts_in_one_project_with_one_role_and_never_signs_in(auth: AuthService) -> None:
    created = auth.create_service_account(
        "ci-train", project="a", role="contributor", actor="root", expires_at=now_ms() + 86_400_000
    )
    assert created.token.binding is not None and created.token.binding.project == "a"
    user = auth.identify(created.secret).user
    assert user.is_service and user.bound_roles == {"a": Role.CONTRIBUTOR}
    auth.require_all(user, ["a"], Role.CONTRIBUTOR)
    with pytest.raises(PermissionDenied):
        auth.require_all(user, ["a"], Role.APPROVER)
    with pytest.raises(PermissionDenied):
        auth.require_all(user, ["b"], Role.VIEWER)
    # granted a role in b by mistake, its token still acts only in a
    auth.grant("b", "ci-train", Role.ADMIN, actor="root")
    assert auth.identify(created.secret).user.bound_roles == {"a": Role.CONTRIBUTOR}
    assert auth.visible_projects(auth.identify(created.secret).user, ["a", "b"]) == ["a"]
    # it has no password and cannot be given one, and cannot sign in
    with pytest.raises(InvalidParameter, match="service account"):
        auth.sign_in.set_password("ci-train", PASSWORD, actor="root")
    with pytest.raises(Unauthenticated):
        auth.sign_in.with_password("ci-train", PASSWORD)
    # its tokens are always bound
    with pytest.raises(Conflict, match=r"service account: its tokens are bound.*name the project"):
        auth.create_token("ci-train", actor="root")


def test_a_bound_token_acts_at_the_lower_of_its_role_and_the_users(auth: AuthService) -> None:
    _person(auth, a=Role.VIEWER, b=Role.ADMIN)
    wide = auth.create_token("ada", project="a", role="admin", actor="ada")
    assert auth.identify(wide.secret).user.bound_roles == {"a": Role.VIEWER}
    narrow = auth.create_token("ada", project="b", role="viewer", actor="ada")
    assert auth.identify(narrow.secret).user.bound_roles == {"b": Role.VIEWER}
    auth.revoke_role("b", "ada", actor="root")  # holds nothing there now: the token gives nothing
    assert auth.identify(narrow.secret).user.bound_roles == {}
    # a site admin's bound token is not a site admin's
    root_ci = auth.create_token("root", project="a", role="contributor", actor="root")
    bound_root = auth.identify(root_ci.secret).user
    assert not bound_root.is_admin and bound_root.bound_roles == {"a": Role.CONTRIBUTOR}
    with pytest.raises(InvalidParameter, match="no project 'nowhere'"):
        auth.create_token("ada", project="nowhere", role="viewer", actor="ada")
    with pytest.raises(InvalidParameter):
        auth.create_token("ada", role="viewer", actor="ada")  # a role needs its project


def test_token_last_use_is_recorded_at_most_once_a_minute(auth: AuthService) -> None:
    _person(auth)
    created = auth.create_token("ada", actor="root")
    assert auth.get_token(created.token.id).last_used_at is None
    auth.identify(created.secret)
    first = auth.get_token(created.token.id).last_used_at
    assert first is not None and now_ms() - first < 5_000
    auth.identify(created.secret)
    assert auth.get_token(created.token.id).last_used_at == first


def test_garbage_collection_forgets_old_sessions(db: Database, auth: AuthService) -> None:
    _person(auth)
    new = auth.sign_in.with_password("ada", PASSWORD)
    auth.sign_in.sign_out(new.credential.session.id, actor="ada")
    assert auth.purge_expired(now_ms() + 1, dry_run=True) == {"sessions": 1}
    assert auth.purge_expired(now_ms() - 60_000) == {"sessions": 0}
    assert auth.purge_expired(now_ms() + 1) == {"sessions": 1}
    assert auth.sign_in.sessions("ada", open_only=False) == []


def test_a_service_account_cannot_be_made_a_site_admin(auth: AuthService) -> None:
    auth.create_service_account("ci", project="a", role="viewer", actor="root")
    with pytest.raises(InvalidParameter):
        auth.set_site_admin("ci", True, actor="root")
    with pytest.raises(Conflict):
        auth.set_site_admin("root", False, actor="root")  # the last enabled site admin


@pytest.fixture
def long_brake_auth(db: Database) -> Iterator[AuthService]:
    # A first delay far longer than a burst of tries: on a loaded machine 30 tries (six of them
    # hashing) can outlast a 1-s brake, and a try after the brake has ended is rightly checked.
    yield from _services(db, SessionPolicy(first_delay_ms=10 * 60_000))


def test_a_burst_of_tries_at_once_is_braked_like_tries_one_after_another(
    long_brake_auth: AuthService,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    auth = long_brake_auth
    _person(auth)
    free = auth.sign_in.policy.account_free_failures

    def attempt(index: int) -> str:
        try:
            auth.sign_in.with_password("ada", f"wrong guess number {index}", address=f"10.1.0.{index}")
        except TooManyRequests:
            return "braked"
        except Unauthenticated:
            return "checked"
        return "signed in"

    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(attempt, range(30)))
    # every try counts before its password is checked: only the free ones and the one that starts
    # the brake get a check, however many arrive together
    assert outcomes.count("checked") == free + 1
    assert outcomes.count("braked") == 30 - free - 1
