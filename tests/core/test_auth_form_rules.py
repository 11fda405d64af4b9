"""The auth service's rules for what the web UI's forms ask: a token's lifetime given in whole days
(1 to the server's limit), and a token bound to a project that does not exist (a bad parameter on
`project`, not a missing page)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.service import DAY_MS, DAYS_TOKEN_MAX_DAYS, AuthService
from plimsoll.core.db import Database
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects.service import ProjectService
from plimsoll.platform import event_catalog


@pytest.fixture
def outbox(db: Database) -> Iterator[Outbox]:
    box = Outbox(db, event_catalog())
    try:
        yield box
    finally:
        box.close()


def test_a_lifetime_in_days_is_one_to_the_servers_limit(db: Database, outbox: Outbox) -> None:
    unlimited = AuthService(db, outbox)
    assert unlimited.max_token_days() == DAYS_TOKEN_MAX_DAYS
    before = now_ms()
    assert before + 3 * DAY_MS <= unlimited.expiry_in_days("3") <= now_ms() + 3 * DAY_MS
    for bad, words in [
        ("0", "1 to 365 days"),
        ("366", "got 366"),
        ("soon", "whole number"),
        ("", "whole number"),
    ]:
        with pytest.raises(InvalidParameter, match=words) as refused:
            unlimited.expiry_in_days(bad)
        assert refused.value.field == "expires_in_days"

    limited = AuthService(db, outbox, token_max_days=30)
    assert limited.max_token_days() == 30
    with pytest.raises(InvalidParameter, match=r"1 to 30 days on this server \(PLIMSOLL_TOKEN_MAX_DAYS\)"):
        limited.expiry_in_days(31)
    limited.expiry_in_days(30)


def test_a_token_bound_to_a_missing_project_is_a_bad_parameter(db: Database, outbox: Outbox) -> None:
    service = AuthService(db, outbox)
    ProjectService(db, outbox).create("ml", actor="root")
    service.create_user("ada", actor="root")
    with pytest.raises(InvalidParameter, match="there is no project 'nowhere'") as refused:
        service.create_token("ada", project="nowhere", role=Role.VIEWER, actor="root")
    assert refused.value.field == "project"
    with pytest.raises(InvalidParameter, match="there is no project 'nowhere'"):
        service.create_service_account("ci", project="nowhere", role=Role.VIEWER, actor="root")
    assert [user.name for user in service.list_users()] == ["ada"]  # nothing half made
    made = service.create_service_account("ci", project="ml", role=Role.CONTRIBUTOR, actor="root")
    assert made.token.binding is not None and made.token.binding.project == "ml"
