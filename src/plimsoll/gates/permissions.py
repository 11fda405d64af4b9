"""Release gates' permission rows. Reading policies, decisions and promotions needs a viewer of
the project; running a check and requesting a promotion a contributor; approving, rejecting and
waiving the approver role (which the service checks again, with the rules a role cannot express:
not the version's author, not the requester, one of the policy's approvers if it names them);
setting a policy an admin. A promotion and a decision are found by id, and their project with them.
"""

from __future__ import annotations

from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.permissions import (
    PROJECT_BODY,
    PROJECT_QUERY,
    Permission,
    Resolving,
    Resource,
    Rule,
    Scope,
    admin,
    read,
    string,
    write,
)


def _promotion(resolving: Resolving) -> set[Resource]:
    promotion_id = string("promotion_id", resolving.facts.path_params.get("promotion_id"))
    return {Resource(resolving.service.promotion_project(promotion_id), "promotion", promotion_id)}


def _decision(resolving: Resolving) -> set[Resource]:
    decision_id = string("decision_id", resolving.facts.path_params.get("decision_id"))
    return {Resource(resolving.service.decision_project(decision_id), "decision", decision_id)}


PROMOTION = Scope("promotion", "the project of the `{promotion_id}` promotion", _promotion)
DECISION = Scope("decision", "the project of the `{decision_id}` decision", _decision)


def approver(scope: Scope) -> Rule:
    return Rule(Role.APPROVER, scope)


_ALIAS = "/api/v1/models/{name}/aliases/{alias}"
_PROMOTION = "/api/v1/promotions/{promotion_id}"

PERMISSIONS = (
    Permission("GET", f"{_ALIAS}/policy", read(PROJECT_QUERY)),
    Permission("PUT", f"{_ALIAS}/policy", admin(PROJECT_BODY)),
    Permission("GET", f"{_ALIAS}/promotions", read(PROJECT_QUERY)),
    Permission("POST", f"{_ALIAS}/promotions", write(PROJECT_BODY)),
    Permission("GET", f"{_ALIAS}/waivers", read(PROJECT_QUERY)),
    Permission("POST", f"{_ALIAS}/waivers", approver(PROJECT_BODY)),
    Permission("GET", "/api/v1/promotions", read(PROJECT_QUERY)),
    Permission("GET", _PROMOTION, read(PROMOTION)),
    Permission("POST", f"{_PROMOTION}/approve", approver(PROMOTION)),
    Permission("POST", f"{_PROMOTION}/reject", approver(PROMOTION)),
    Permission("POST", f"{_PROMOTION}/complete", write(PROMOTION)),
    Permission("POST", "/api/v1/gates/check", write(PROJECT_BODY)),
    Permission("GET", "/api/v1/gates/decisions", read(PROJECT_QUERY)),
    Permission("GET", "/api/v1/gates/decisions/{decision_id}", read(DECISION)),
    Permission("GET", "/api/v1/gates/verification", read(PROJECT_QUERY)),
    # The web UI's forms on a model version's page (plimsoll.server.ui.promotions) post as the
    # API's routes do: an approver of the promotion's project.
    Permission("POST", "/promotions/{promotion_id}/approve", approver(PROMOTION)),
    Permission("POST", "/promotions/{promotion_id}/reject", approver(PROMOTION)),
)
