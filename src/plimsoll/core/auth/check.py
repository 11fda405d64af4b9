"""The check of a permission row against a user and a request.

The projectless scopes are decided here; every other scope's resolver names the resources a
request touches (reading through the capability's own service), and the user needs the rule's
role in each of their projects.
"""

from __future__ import annotations

from typing import Any

from plimsoll.core.auth import permissions as p
from plimsoll.core.auth.entities import Role, User
from plimsoll.core.auth.service import AuthService
from plimsoll.core.errors import NotFound, PermissionDenied


def authorize(auth: AuthService, projects: Any, user: User, entry: p.Entry, facts: p.RequestFacts) -> None:
    """Raise PermissionDenied (or NotFound / InvalidParameter) unless `user` may make this request."""
    rule, scope = entry.rule, entry.rule.scope
    if scope is p.PUBLIC:
        return
    if scope is p.GLOBAL:
        if rule.role is Role.ADMIN and not user.is_admin:
            raise PermissionDenied(
                f"user {user.name!r} is not a site admin; only site admins may do this",
                details={"user": user.name, "needed": "site admin"},
            )
        return
    if user.bound_roles is not None and scope in (p.SELF, p.TOKEN, p.ACCOUNT):
        # A bound token could otherwise mint an unbound one and escape its binding.
        raise PermissionDenied(
            f"this token is bound to one project and role; it cannot manage tokens (user {user.name!r})",
            details={"user": user.name},
        )
    if scope is p.ACCOUNT:
        return  # the page acts on the user's own account, and only on it
    if scope is p.SELF:
        name = facts.path_params.get("name")
        if name != user.name and not user.is_admin:
            raise PermissionDenied(
                f"user {user.name!r} may manage only their own tokens and sessions, not those of {name!r}",
                details={"user": user.name, "target": name},
            )
        return
    if scope is p.TOKEN:
        token_id = str(facts.path_params.get("token_id"))
        owner = auth.token_owner(token_id)
        if owner is None:
            raise NotFound(f"API token {token_id!r} not found")
        if owner != user.name and not user.is_admin:
            raise PermissionDenied(
                f"user {user.name!r} may revoke only their own tokens; token {token_id!r} is not theirs",
                details={"user": user.name, "token_id": token_id},
            )
        return
    if scope is p.UI:
        if not auth.has_any_role(user):
            raise PermissionDenied(
                f"user {user.name!r} holds no role in any project; ask a project admin for one",
                details={"user": user.name, "needed": (rule.role or Role.VIEWER).value},
            )
        return
    assert rule.role is not None, f"a {scope.name} rule needs a role"
    resources = scope.resources(p.Resolving(facts, entry.service, projects))
    if not resources:
        # A request that names no project (an empty write batch, say) still needs the rule's role
        # somewhere: whatever it contains, it is never open to a user who holds nothing.
        auth.require_somewhere(user, rule.role)
        return
    try:
        auth.require_all(user, {resource.project for resource in resources}, rule.role)
    except PermissionDenied as denied:
        _hide_unseen_records(auth, user, resources, rule.role)
        hint = scope.hint(facts) if scope.hint is not None else None
        if hint:
            raise PermissionDenied(f"{denied.message}; {hint}", details=denied.details) from None
        raise


def _hide_unseen_records(auth: AuthService, user: User, resources: set[p.Resource], role: Role) -> None:
    """A record of a project where the user holds no role at all is answered as a record that
    does not exist is (NotFound, or the refusal its fallback project gets): a 403 would tell that
    it exists. A user who may see the project is told plainly that the role is too low."""
    for resource in sorted((r for r in resources if r.id is not None), key=lambda r: (r.kind, str(r.id))):
        if auth.role_of(user, resource.project) is None:
            if resource.instead is not None:
                auth.require_all(user, [resource.instead], role)
            raise NotFound(resource.not_found())
