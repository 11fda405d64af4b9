"""The release gates' forms on a model version's page: an approver approves a promotion awaiting
approval (`POST /promotions/{promotion_id}/approve`, with an optional comment) or rejects it
(`.../reject`, saying why). The service decides everything (who may approve: never the version's
author nor the requester; whether the promotion still awaits; the comment a rejection needs); a
refusal comes back as the version's page with the message beside the form and the error's
status, a success as a redirect to that page with a notice. The permission table's rows are the
gates capability's (plimsoll.gates.permissions): an approver of the promotion's project."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from plimsoll.core.errors import Conflict, GateFailed, InvalidParameter, PermissionDenied
from plimsoll.core.http import actor_of
from plimsoll.gates.entities import Promotion, check_comment
from plimsoll.gates.service import GateService
from plimsoll.server.ui import views
from plimsoll.server.ui.models import APPROVE_ROUTE, REJECT_ROUTE, version_page_of, version_path
from plimsoll.server.ui.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

# What a refusal on the form may be; anything else (an unknown promotion) is the error page.
FORM_ERRORS = (InvalidParameter, PermissionDenied, Conflict, GateFailed)


def _gates(request: Request) -> GateService:
    return cast(GateService, request.app.state.platform.service("gates"))


@router.post(APPROVE_ROUTE, response_model=None)
def approve(request: Request, promotion_id: str, comment: Annotated[str, Form()] = "") -> Response:
    return _answer(request, promotion_id, "approve", comment)


@router.post(REJECT_ROUTE, response_model=None)
def reject(request: Request, promotion_id: str, comment: Annotated[str, Form()] = "") -> Response:
    return _answer(request, promotion_id, "reject", comment)


def _answer(request: Request, promotion_id: str, action: str, comment: str) -> Response:
    gates = _gates(request)
    # Text no form on the page can send (too long, or what no database stores) is the 400 page,
    # before anything is looked up; an unknown promotion is the 404 page.
    comment = check_comment("comment", comment)
    promotion = gates.get_promotion(promotion_id)
    actor = actor_of(request)
    try:
        if action == "approve":
            after = gates.approve(promotion_id, comment=comment, actor=actor)
        else:
            after = gates.reject(promotion_id, comment=comment, actor=actor)
    except FORM_ERRORS as error:
        return version_page_of(
            request,
            promotion.model,
            promotion.version,
            promotion.project,
            errors={promotion_id: _message(error)},
            form={"promotion": promotion_id, "action": action, "comment": comment},
            status=error.status,
        )
    page = views.url(
        version_path(promotion.model, promotion.version), project=promotion.project, notice=_notice(after)
    )
    return RedirectResponse(f"{page}#promotions", status_code=303)


def _notice(promotion: Promotion) -> str:
    if promotion.status == "promoted":
        return "promoted"
    return "rejected" if promotion.status == "rejected" else "approved"


def _message(error: InvalidParameter | PermissionDenied | Conflict | GateFailed) -> str:
    """The service's message; a refused comment's naming the field as the form labels it."""
    message = str(error.message)
    if isinstance(error, InvalidParameter) and error.field == "comment":
        return "Comment " + message.removeprefix("comment: ")
    return message
