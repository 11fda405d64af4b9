"""The SDK's `client.alerts` and `client.incidents`, embedded and over HTTP, on SQLite and
PostgreSQL: the same records and the same errors either way; and the REST routes with
authentication on: viewers read, contributors acknowledge, resolve, note and silence, admins set
inhibition rules, and the platform's own records are for those who hold a role everywhere (site
admins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from incidents_support import T0, check, drain, model_versions, signal

from plimsoll.client import Client
from plimsoll.core.auth.entities import Role
from plimsoll.core.changes import changing
from plimsoll.core.config import Settings
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.incidents.entities import Alert, Incident, Silence, Timeline
from plimsoll.incidents.matchers import Inhibition
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer


@pytest.fixture(params=["embedded", "http"])
def both(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path
) -> Iterator[tuple[Client, Platform]]:
    """A client (embedded, or over HTTP to a live server) and a platform on the same database."""
    if request.param == "embedded":
        settings = Settings.from_env().with_overrides(
            home=tmp_path / "home", blobs_url=str(tmp_path / "blobs")
        )
        client = Client(database_url, settings=settings)
        assert client.platform is not None
        platform = client.platform
    else:
        platform = request.getfixturevalue("platform")
        client = Client(request.getfixturevalue("live_server").url)
    try:
        yield client, platform
    finally:
        client.close()


def test_the_sdk_reads_and_handles_alerts_and_incidents_either_way(both: tuple[Client, Platform]) -> None:
    client, platform = both
    model_versions(platform, 1, owners={"incident_response": "irene"})
    check(platform, [signal("data_drift", True, 0.4), signal("no_data", False, 10.0)], at=T0)
    drain(platform)

    (alert,) = client.alerts.list()
    assert isinstance(alert, Alert) and (alert.rule, alert.state, alert.value) == (
        "data_drift",
        "firing",
        0.4,
    )
    shown = client.alerts.get(alert.id)
    assert [t.state for t in shown.history] == ["pending", "firing"] and shown.labels["model"] == "churn"
    assert client.alerts.list(state="resolved") == []

    silence = client.alerts.silence(["alertname=~perf.*", "model=churn"], hours=1.5, comment="load test")
    assert isinstance(silence, Silence) and silence.ends_at - silence.starts_at == 5_400_000
    assert [s.id for s in client.alerts.silences(state="active")] == [silence.id]
    assert client.alerts.expire_silence(silence.id).expired_at is not None
    with pytest.raises(Conflict):
        client.alerts.expire_silence(silence.id)
    with pytest.raises(InvalidParameter) as raised:
        client.alerts.silence(["model=~.*"], hours=1, comment="everything")
    assert raised.value.field == "matchers"
    with pytest.raises(InvalidParameter) as raised:
        client.alerts.silence(["model=churn"], comment="forever?")
    assert raised.value.field == "hours"

    rule = client.alerts.inhibit(["alertname=performance_drop"], ["alertname=data_drift"], equal=["model"])
    assert isinstance(rule, Inhibition)
    assert [r.id for r in client.alerts.inhibitions()] == ["default", rule.id]
    client.alerts.delete_inhibition(rule.id)
    with pytest.raises(Conflict):
        client.alerts.delete_inhibition("default")
    with pytest.raises(Conflict, match="a monitor's"):
        client.alerts.resolve(alert.id)

    (incident,) = client.incidents.list(state="open")
    assert isinstance(incident, Incident) and incident.owner == "irene"
    acked = client.incidents.acknowledge(incident.id, comment="on it")
    assert acked.state == "acknowledged" and acked.acknowledged_by  # the OS user, or "local" over HTTP
    note = client.incidents.note(incident.id, "nulls upstream")
    assert note.text == "nulls upstream"
    timeline = client.incidents.timeline(incident.id)
    assert isinstance(timeline, Timeline) and "note" in [e.kind for e in timeline.entries]
    done = client.incidents.resolve(incident.id, comment="fixed")
    assert done.state == "resolved" and [n.text for n in client.incidents.get(incident.id).notes] == [
        "on it",
        "nulls upstream",
    ]
    with pytest.raises(Conflict):
        client.incidents.resolve(incident.id)
    with pytest.raises(NotFound):
        client.incidents.get("0" * 32)
    with pytest.raises(InvalidParameter):
        client.incidents.get("nope")
    assert client.incidents.list(platform=True) == [] and client.alerts.list(platform=True) == []


# -- the REST routes with authentication on ----------------------------------------------------------


def api(server: LiveServer, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def people(platform: Platform) -> dict[str, str]:
    """A token each: root (site admin), an admin, a contributor and a viewer of `default`, and an
    outsider with a role in another project only."""
    tokens = {"root": platform.auth.bootstrap_admin("root").secret}
    platform.projects.create("other", actor="root")
    for name, project, role in [
        ("ad", "default", Role.ADMIN),
        ("cy", "default", Role.CONTRIBUTOR),
        ("vi", "default", Role.VIEWER),
        ("out", "other", Role.ADMIN),
    ]:
        platform.auth.create_user(name, actor="root")
        platform.auth.grant(project, name, role, actor="root")
        tokens[name] = platform.auth.create_token(name, label="t", actor="root").secret
    return tokens


@pytest.mark.auth_on
def test_the_routes_follow_the_permission_rows(platform: Platform, live_server: LiveServer) -> None:
    tokens = people(platform)
    model_versions(platform, 1)
    check(platform, [signal("data_drift", True)], at=T0)
    _dead_job(platform)  # a platform alert
    drain(platform)
    with (
        api(live_server, tokens["vi"]) as vi,
        api(live_server, tokens["cy"]) as cy,
        api(live_server, tokens["ad"]) as ad,
        api(live_server, tokens["out"]) as out,
        api(live_server, tokens["root"]) as root,
    ):
        (alert,) = vi.get("/alerts").json()["alerts"]
        assert vi.get(f"/alerts/{alert['id']}").status_code == 200
        (incident,) = vi.get("/incidents", params={"state": "open"}).json()["incidents"]
        assert vi.get(f"/incidents/{incident['id']}/timeline").status_code == 200
        path = f"/incidents/{incident['id']}"
        assert vi.post(f"{path}/acknowledge", json={}).status_code == 403
        assert out.get(path).status_code == 404  # a record of a project where one holds nothing
        assert out.get("/alerts").status_code == 403

        acked = cy.post(f"{path}/acknowledge", json={"comment": "mine"})
        assert acked.status_code == 200 and acked.json()["acknowledged_by"] == "cy"
        again = cy.post(f"{path}/acknowledge", json={})
        assert again.status_code == 409
        blank = cy.post(f"{path}/notes", json={"text": " "})
        assert blank.status_code == 400 and blank.json()["error"]["details"]["field"] == "text"
        assert cy.post(f"{path}/notes", json={"text": "found it"}).status_code == 201
        silence = {"matchers": [{"name": "model", "value": "churn"}], "duration_s": 600, "comment": "deploy"}
        created = cy.post("/silences", json=silence)
        assert created.status_code == 201, created.text
        assert vi.post("/silences", json=silence).status_code == 403
        bad = cy.post(
            "/silences", json={**silence, "matchers": [{"name": "x", "op": "=~", "value": "(a+)+"}]}
        )
        assert bad.status_code == 400 and bad.json()["error"]["details"]["field"] == "matchers[0].value"
        assert cy.post(f"/silences/{created.json()['id']}/expire").status_code == 200

        rule = {
            "source": [{"name": "alertname", "value": "no_data"}],
            "target": [{"name": "severity", "value": "info"}],
        }
        assert cy.post("/inhibitions", json=rule).status_code == 403
        made = ad.post(
            "/inhibitions", json={**rule, "equal": ["monitor"], "comment": "no data explains info"}
        )
        assert made.status_code == 201
        assert [r["id"] for r in vi.get("/inhibitions").json()["inhibitions"]] == [
            "default",
            made.json()["id"],
        ]
        assert cy.delete(f"/inhibitions/{made.json()['id']}").status_code == 403
        assert ad.delete(f"/inhibitions/{made.json()['id']}").status_code == 200
        assert root.delete("/inhibitions/default").status_code == 409  # the built-in rule stays

        # The platform's own: for those who hold the role everywhere (site admins).
        assert ad.get("/alerts", params={"platform": "true"}).status_code == 403
        assert ad.get("/alerts", params={"platform": "yes"}).status_code == 403  # read as the route reads it
        (platform_alert,) = root.get("/alerts", params={"platform": "true"}).json()["alerts"]
        assert platform_alert["labels"]["source"] == "jobs" and platform_alert["project"] is None
        assert ad.get(f"/alerts/{platform_alert['id']}").status_code == 404  # not shown to a project's admin
        (platform_incident,) = root.get("/incidents", params={"platform": "true"}).json()["incidents"]
        assert cy.post(f"/incidents/{platform_incident['id']}/resolve", json={}).status_code == 404
        done = root.post(f"/incidents/{platform_incident['id']}/resolve", json={"comment": "retried"})
        assert done.status_code == 200 and done.json()["state"] == "resolved"
        platform_silence = {**silence, "platform": True, "matchers": [{"name": "source", "value": "jobs"}]}
        assert ad.post("/silences", json=platform_silence).status_code == 403
        assert root.post("/silences", json=platform_silence).status_code == 201

        assert vi.get("/alerts/0123456789abcdef0123456789abcdef").status_code == 404
        assert vi.get("/incidents", params={"state": "closed"}).status_code == 400


def _dead_job(platform: Platform) -> None:
    """A `job.dead_lettered` event as the job engine publishes it (through the outbox)."""
    payload = {
        "job_id": "a" * 32,
        "kind": "reports.nightly",
        "attempts": 5,
        "max_attempts": 5,
        "error": "boom",
        "dead_at": T0,
    }
    with changing(platform.db, platform.outbox, "system") as change:
        change.emit("job.dead_lettered", "job:" + "a" * 32, payload, project=None)
