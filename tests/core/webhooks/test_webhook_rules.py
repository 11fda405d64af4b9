"""Webhook rules without a background: what a subscription may name, the private-network rule at
creation, the consumer's dedupe, the audit log, and signatures. Both backends."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from webhook_receiver import make_platform

from plimsoll.core import audit
from plimsoll.core.config import Settings, SmtpLogin
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.webhooks import verify_signature
from plimsoll.core.webhooks.signatures import sign
from plimsoll.platform import Platform

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def strict(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    """The default: private networks refused."""
    platform = make_platform(database_url, tmp_path, allow_private=False)
    try:
        yield platform
    finally:
        platform.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://localhost/hook",
        "https://api.localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[fe80::1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://[::]/hook",
        "http://240.0.0.1/hook",
        "http://100.64.0.1/hook",
        "http://[2002:7f00:1::]/hook",
        "http://[64:ff9b::7f00:1]/hook",
    ],
)
def test_a_private_literal_target_is_refused_at_creation(strict: Platform, url: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        strict.webhooks.create("private", url, ["*"], actor="root")
    assert caught.value.field == "url"
    assert "PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE" in caught.value.message


@pytest.mark.parametrize(
    "url", ["http://8.8.8.8/hook", "https://[2606:4700::1111]:8443/hook", "https://example.com"]
)
def test_a_public_literal_or_a_name_is_accepted(strict: Platform, url: str) -> None:
    assert strict.webhooks.create("public", url, ["*"], actor="root").subscription.url == url


def test_private_targets_are_accepted_when_allowed(database_url: str, tmp_path: Path) -> None:
    platform = make_platform(database_url, tmp_path, allow_private=True)
    try:
        created = platform.webhooks.create("local", "http://127.0.0.1:9/hook", ["*"], actor="root")
        assert created.subscription.url == "http://127.0.0.1:9/hook"
    finally:
        platform.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "must use http or https"),
        ("example.com/hook", "must use http or https"),
        ("http:///hook", "has no host"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://example.com/" + "a" * 2100, "the limit is 2048"),
        ("https://exa mple.com/", "spaces or control characters"),
        ("https://example.com:99999/", "not a valid URL"),
        ("", "must be an http"),
    ],
)
def test_a_bad_url_names_the_url(strict: Platform, url: str, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        strict.webhooks.create("bad", url, ["*"], actor="root")
    assert caught.value.field == "url" and message in caught.value.message


@pytest.mark.parametrize(
    ("events", "message"),
    [
        (["experiment.exploded"], "not a registered event type"),
        (["nothing.*"], "no registered event type starts with that noun"),
        ([], "at least one"),
        ("experiment.created", "must be a list"),
        ([42], "must hold strings"),
        (["experiment"], "not a registered event type"),
    ],
)
def test_unknown_event_types_name_the_events(strict: Platform, events: object, message: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        strict.webhooks.create("bad", "https://example.com/hook", events, actor="root")  # type: ignore[arg-type]
    assert caught.value.field == "events" and message in caught.value.message


def test_create_list_get_delete_and_the_secret_shown_once(strict: Platform) -> None:
    hooks = strict.webhooks
    patterns = ["experiment.created", "run.*", "experiment.created", "dataset.validated"]
    created = hooks.create("ci", "https://hooks.example.com/in?t=1", patterns, actor="root")
    subscription = created.subscription
    assert created.secret.startswith("whsec_") and len(created.secret) > 40
    assert created.secret not in repr(created)
    assert subscription.events == ("experiment.created", "run.*", "dataset.validated")
    assert (subscription.format, subscription.active, subscription.created_by) == ("plimsoll", True, "root")
    assert hooks.list() == [subscription] and hooks.get(subscription.id) == subscription
    assert "secret" not in subscription.to_dict()
    with pytest.raises(Conflict):
        hooks.create("ci", "https://hooks.example.com/other", ["*"], actor="root")
    with pytest.raises(InvalidParameter) as caught:
        hooks.create("other", "https://hooks.example.com/", ["*"], format="xml", actor="root")
    assert caught.value.field == "format"
    assert hooks.delete(subscription.id, actor="root") == subscription
    assert hooks.list() == []
    for call in (hooks.get, hooks.deliveries):
        with pytest.raises(NotFound):
            call(subscription.id)
    with pytest.raises(InvalidParameter) as caught:
        hooks.get("../x")
    assert caught.value.field == "webhook_id"
    with pytest.raises(NotFound):
        hooks.delete(UNKNOWN_ID, actor="root")
    with strict.db.read() as conn:
        entries = audit.list_events(conn, resource_type="webhook", resource_id=subscription.id)
    assert [(e.action, e.actor) for e in entries] == [("webhook.create", "root"), ("webhook.delete", "root")]
    assert entries[0].after["url"] == "https://hooks.example.com/in?t=1"
    assert (
        created.secret not in orjson.dumps([e.after for e in entries] + [e.before for e in entries]).decode()
    )


def test_an_event_seen_twice_makes_one_delivery(strict: Platform) -> None:
    created = strict.webhooks.create("twice", "https://hooks.example.com/", ["experiment.*"], actor="root")
    strict.tracking.create_experiment("e", actor="ada")
    (event,) = [e for e in strict.outbox.follow().events if e.type == "experiment.created"]
    strict.webhooks.on_event(event)
    strict.webhooks.on_event(event)  # at-least-once: the consumer may see it again
    (delivery,) = strict.webhooks.deliveries(created.subscription.id)
    assert (delivery.event_id, delivery.state.value, delivery.attempts) == (event.id, "pending", 0)
    jobs = strict.jobs.list(kinds=["webhooks.deliver"]).jobs
    assert [(job.id, job.dedupe_key) for job in jobs] == [
        (delivery.job_id, f"webhook:{created.subscription.id}:{event.id}")
    ]
    assert jobs[0].payload == {"delivery_id": delivery.id}  # the event stays out of the jobs page


def test_events_from_before_the_subscription_and_other_types_are_not_delivered(strict: Platform) -> None:
    strict.tracking.create_experiment("before", actor="ada")
    created = strict.webhooks.create("late", "https://hooks.example.com/", ["run.*"], actor="root")
    strict.tracking.create_experiment("after", actor="ada")
    for event in strict.outbox.follow().events:
        strict.webhooks.on_event(event)
    assert strict.webhooks.deliveries(created.subscription.id) == []
    with pytest.raises(InvalidParameter) as caught:
        strict.webhooks.deliveries(created.subscription.id, limit=0)
    assert caught.value.field == "limit"


def test_verify_signature() -> None:
    secret, body, now = "whsec_test", b'{"id": 1}', 1_800_000_000.0
    signature = sign(secret, int(now), body)
    assert signature.startswith("sha256=") and len(signature) == len("sha256=") + 64
    assert verify_signature(secret, str(int(now)), body, signature, now=now + 10)
    assert not verify_signature(secret, int(now), body + b" ", signature, now=now)  # tampered body
    assert not verify_signature("whsec_other", int(now), body, signature, now=now)  # another secret
    assert not verify_signature(secret, int(now) + 1, body, signature, now=now)  # another timestamp
    assert not verify_signature(secret, int(now), body, signature, now=now + 301)  # stale
    assert not verify_signature(secret, int(now), body, signature, now=now - 301)  # from the future
    assert verify_signature(secret, int(now), body, signature, now=now + 301, window_s=600)
    assert not verify_signature(secret, "yesterday", body, signature, now=now)


def test_the_documented_receiver_snippet_verifies_what_plimsoll_signs() -> None:
    """docs/webhooks.md's Python snippet, run as written, against a real signature."""
    doc = (Path(__file__).resolve().parents[3] / "docs" / "webhooks.md").read_text()
    snippet = doc.split("## Verifying signatures", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify = namespace["verify"]
    secret, body, stamp = "whsec_doc", b'{"id": 7}', int(time.time())
    assert verify(secret, str(stamp), body, sign(secret, stamp, body))
    assert not verify(secret, str(stamp), body + b"!", sign(secret, stamp, body))
    assert not verify(secret, str(stamp - 301), body, sign(secret, stamp - 301, body))


def test_the_email_login_comes_from_the_configuration(tmp_path: Path) -> None:
    """PLIMSOLL_WEBHOOKS_SMTP_*: the three together (the password or a file holding it), for one
    host; never shown in a repr."""
    assert Settings.from_env({}).webhooks_smtp_login is None
    secret_file = tmp_path / "smtp-password"
    secret_file.write_text("s3cret-pw\n")
    env = {
        "PLIMSOLL_WEBHOOKS_SMTP_HOST": "Mail.Example.org.",
        "PLIMSOLL_WEBHOOKS_SMTP_USERNAME": "alerts",
        "PLIMSOLL_WEBHOOKS_SMTP_PASSWORD_FILE": str(secret_file),
    }
    login = Settings.from_env(env).webhooks_smtp_login
    assert login == SmtpLogin(host="Mail.Example.org.", username="alerts", password="s3cret-pw")
    assert login.is_for("mail.example.org") and not login.is_for("mail.example.org.evil.test")
    assert "s3cret-pw" not in repr(login) and "s3cret-pw" not in repr(Settings.from_env(env))
    for missing in ("PLIMSOLL_WEBHOOKS_SMTP_HOST", "PLIMSOLL_WEBHOOKS_SMTP_USERNAME"):
        with pytest.raises(InvalidParameter) as caught:
            Settings.from_env({key: value for key, value in env.items() if key != missing})
        assert caught.value.field == missing
    with pytest.raises(InvalidParameter) as caught:
        Settings.from_env({**env, "PLIMSOLL_WEBHOOKS_SMTP_PASSWORD_FILE": str(tmp_path / "none")})
    assert caught.value.field == "PLIMSOLL_WEBHOOKS_SMTP_PASSWORD_FILE"
    with pytest.raises(InvalidParameter) as caught:
        Settings.from_env({**env, "PLIMSOLL_WEBHOOKS_SMTP_HOST": "smtp://mail.example.org:587"})
    assert caught.value.field == "PLIMSOLL_WEBHOOKS_SMTP_HOST"
