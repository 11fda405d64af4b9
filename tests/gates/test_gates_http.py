"""Release gates over HTTP with authentication on: the permission rows (approving needs the approver
role, setting a policy an admin), the same rules as embedded, and a walk of every route of the
OpenAPI document that could move an alias, each tried against a protected alias without a passing
decision: none moves it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from gates_support import AUTHOR, POLICY, REQUESTER, evidence, guarded

from plimsoll.core.auth.entities import Role
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = pytest.mark.auth_on


def api(server: LiveServer, secret: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {secret}"}, timeout=30
    )


def token(platform: Platform, user: str) -> str:
    return platform.auth.create_token(user, label="test", actor="root").secret


def test_promotions_over_http_follow_the_same_rules(platform: Platform, live_server: LiveServer) -> None:
    root = platform.auth.bootstrap_admin("root").secret
    guarded(platform)
    platform.auth.grant("default", "bea", Role.APPROVER, actor="root")
    with api(live_server, token(platform, REQUESTER)) as cy, api(live_server, token(platform, "bea")) as bea:
        refused = cy.put("/models/churn/aliases/production/policy", json={"policy": POLICY})
        assert refused.status_code == 403  # an admin's
        with api(live_server, root) as admin:
            bad = admin.put(
                "/models/churn/aliases/production/policy",
                json={"policy": "alias: production\ngates: [{metric: aucc, min: 1}]\n"},
            )
        assert bad.status_code == 400 and bad.json()["error"]["details"]["line"] == 2

        asked = cy.post(
            "/models/churn/aliases/production/promotions", json={"version": 1, "evidence": evidence()}
        )
        assert asked.status_code == 202, asked.text
        promotion = asked.json()
        assert promotion["status"] == "checking"
        again = cy.post("/models/churn/aliases/production/promotions", json={"version": 2})
        assert again.status_code == 409 and promotion["id"] in again.json()["error"]["message"]
        platform.gates.run_gates(promotion["id"])  # the job (this server runs no worker)

        path = f"/promotions/{promotion['id']}"
        assert cy.post(f"{path}/approve", json={}).status_code == 403  # a contributor: the row refuses
        unsaid = bea.post(f"{path}/reject", json={"comment": " "})
        assert unsaid.status_code == 400 and unsaid.json()["error"]["details"]["field"] == "comment"
        approved = bea.post(f"{path}/approve", json={"comment": "fine"})
        assert approved.status_code == 200 and approved.json()["status"] == "awaiting_approval"
        early = cy.post(f"{path}/complete")
        assert (
            early.status_code == 409
            and "needs 2 valid approvals; it has 1" in early.json()["error"]["message"]
        )
        shown = cy.get(path).json()
        assert [a["approver"] for a in shown["approvals"]] == ["bea"]
        decision = cy.get(f"/gates/decisions/{shown['decision']}").json()
        assert (decision["verdict"], decision["integrity"]) == ("pending", "verified")
        assert cy.get("/gates/verification").json() == {
            "project": "default",
            "checked": 1,
            "ok": True,
            "problems": [],
        }
        waived = bea.post(
            "/models/churn/aliases/production/waivers",
            json={"version": 2, "gate": "p95", "reason": "new region", "expires_in_hours": 2},
        )
        assert waived.status_code == 201 and waived.json()["approver"] == "bea"
        checked = cy.post(
            "/gates/check",
            json={"model": "churn", "version": 2, "policy": POLICY, "evidence": evidence(p95=80)},
        )
        assert checked.status_code == 200 and checked.json()["results"][2]["status"] == "waived"


# -- the walk ------------------------------------------------------------------------------------

WALKED = ("/api/v1/models", "/api/v1/promotions", "/api/v1/gates")
# A protected alias's one sanctioned move without a decision of its own: back to the version it
# held before (tests/registry); in this world production has held no other, so it is refused too.
HINTS: dict[str, Any] = {
    "project": "default",
    "version": 2,
    "expected": 1,
    "reason": "walking",
    "comment": "walking",
    "policy": POLICY.replace("  required: 2\n", "  required: 0\n"),
    "evidence": evidence(),
    "gate": "auc",
    "expires_in_hours": 1,
    "protected": True,
    "artifact_path": "model",
    "flavor": "python_function",
    "model": "churn",
    "name": "churn",
    "description": "walking",
}


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        schema = target
    return schema


def _example(document: dict[str, Any], schema: dict[str, Any], name: str = "") -> Any:
    if name in HINTS:
        return HINTS[name]
    schema = _resolve(document, schema)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if _resolve(document, s).get("type") != "null"]
            return _example(document, options[0], name) if options else None
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        return {key: _example(document, value, key) for key, value in properties.items()}
    if kind == "array":
        return []
    if kind == "integer":
        return schema.get("minimum", 1)
    if kind == "number":
        return 0.5
    if kind == "boolean":
        return True
    return schema.get("enum", ["walking"])[0]


def test_no_route_moves_a_protected_alias_without_a_passing_decision(
    platform: Platform, live_server: LiveServer
) -> None:
    root = platform.auth.bootstrap_admin("root").secret
    versions = guarded(platform, versions=2)
    registry = platform.model_registry
    registry.set_alias("churn", "production", 1, actor="root")
    registry.protect_alias("churn", "production", actor="root")
    HINTS["run_id"] = versions[1].run_id
    # promotions in every state a request might try to push through: failed, awaiting approval
    failed = platform.gates.run_gates(
        platform.gates.promote("churn", 2, to="production", evidence=evidence(auc=0.1), actor=REQUESTER).id
    )
    pending = platform.gates.run_gates(
        platform.gates.promote("churn", 2, to="production", evidence=evidence(), actor=REQUESTER).id
    )
    assert (failed.status, pending.status) == ("failed", "awaiting_approval")
    ids = {"promotion_id": [failed.id, pending.id], "decision_id": [pending.decision]}

    with api(live_server, root) as client:
        document = httpx.get(live_server.url + "/openapi.json").json()
        tried: list[str] = []
        answers: dict[tuple[str, str, str], int] = {}
        for path, operations in document["paths"].items():
            if not path.startswith(WALKED):
                continue
            for method, operation in operations.items():
                if method not in ("post", "put", "patch", "delete"):
                    continue
                for promotion_id in ids["promotion_id"]:
                    values = {
                        "name": "churn",
                        "alias": "production",
                        "promotion_id": promotion_id,
                        "version": "2",
                    }
                    url = path.removeprefix("/api/v1").format(
                        **{k: v for k, v in values.items() if "{" + k + "}" in path}
                    )
                    body = None
                    if "requestBody" in operation:
                        schema = operation["requestBody"]["content"]["application/json"]["schema"]
                        body = _example(document, schema)
                    params = {
                        p["name"]: HINTS.get(p["name"], "walking")
                        for p in operation.get("parameters", [])
                        if p["in"] == "query"
                    }
                    answer = client.request(method.upper(), url, json=body, params=params)
                    assert answer.status_code < 500, (method, url, answer.text)
                    held = registry.get_version("churn@production")
                    assert held.version == 1, f"{method.upper()} {url} moved production: {answer.text}"
                    tried.append(f"{method.upper()} {path}")
                    answers[(method.upper(), path, promotion_id)] = answer.status_code
    # the routes that move an alias were among those tried
    for route in (
        "PUT /api/v1/models/{name}/aliases/{alias}",
        "DELETE /api/v1/models/{name}/aliases/{alias}",
        "POST /api/v1/models/{name}/aliases/{alias}/rollback",
        "POST /api/v1/models/{name}/aliases/{alias}/promotions",
        "POST /api/v1/promotions/{promotion_id}/approve",
        "POST /api/v1/promotions/{promotion_id}/complete",
        "POST /api/v1/gates/check",
    ):
        assert route in tried
    alias = "/api/v1/models/{name}/aliases/{alias}"
    promotion = "/api/v1/promotions/{promotion_id}"
    assert answers[("PUT", alias, failed.id)] == 409  # protected: it moves only through a promotion
    assert answers[("DELETE", alias, failed.id)] == 409
    assert answers[("POST", f"{alias}/rollback", failed.id)] == 409  # it has held no other version
    assert answers[("POST", f"{alias}/promotions", failed.id)] == 409  # one is open already
    assert answers[("POST", f"{promotion}/approve", failed.id)] == 409  # its gates failed
    assert answers[("POST", f"{promotion}/approve", pending.id)] == 200  # one approval of the two
    assert answers[("POST", f"{promotion}/complete", pending.id)] == 409
    assert answers[("POST", "/api/v1/gates/check", pending.id)] == 200  # a check moves nothing
    assert [m.action for m in registry.alias_history("churn", "production")] == ["set"]
    assert registry.aliases("churn")[0].protected
    # the author cannot approve their own version over HTTP either
    with api(live_server, token(platform, AUTHOR)) as ada:
        platform.auth.grant("default", AUTHOR, Role.APPROVER, actor="root")
        refused = ada.post(f"/promotions/{pending.id}/approve", json={})
        assert refused.status_code == 403 and "author" in refused.json()["error"]["message"]
