"""Who is calling, and the one dependency every route uses to declare its permission.

Authentication (tokens, API keys) plugs into :func:`current_principal` by setting
``request.state.principal``; routes and plugins only ever see :class:`Principal` and
:func:`require`, so they do not change when it does.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from kernel._problems import FORBIDDEN, UNAUTHENTICATED, ProblemError
from kernel._tenancy import tenant_scope

PERMISSION_ATTRIBUTE = "__kraliki_permission__"
PUBLIC_ATTRIBUTE = "__kraliki_public__"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller: a platform operator, a tenant user or an API key."""

    subject: str
    kind: Literal["operator", "user", "api_key"]
    tenant_id: uuid.UUID | None = None
    permissions: frozenset[str] = field(default_factory=frozenset)

    def can(self, resource: str, action: str) -> bool:
        return f"{resource}:{action}" in self.permissions


async def current_principal(request: Request) -> Principal:
    """The authenticated caller of this request, or a 401 problem."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise ProblemError(UNAUTHENTICATED, headers={"WWW-Authenticate": "Bearer"})
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(resource: str, action: str) -> Callable[..., AsyncIterator[Principal]]:
    """A dependency that admits only callers holding ``<resource>:<action>``.

    Use as ``principal: Annotated[Principal, Depends(require("calls", "create"))]`` or in a
    route's ``dependencies=[...]``. The permission must be declared through
    ``kraliki_permissions``; the app refuses to start otherwise.
    """
    key = f"{resource}:{action}"

    async def dependency(principal: CurrentPrincipal) -> AsyncIterator[Principal]:
        if key not in principal.permissions:
            raise ProblemError(FORBIDDEN, f"this action needs the permission {key!r}")
        # The rest of the request acts for the caller's tenant (None for operators).
        with tenant_scope(principal.tenant_id):
            yield principal

    setattr(dependency, PERMISSION_ATTRIBUTE, key)
    dependency.__name__ = f"require_{resource}_{action}".replace(".", "_").replace("-", "_")
    return dependency


def public(reason: str) -> Callable[[], None]:
    """Mark a route as deliberately unauthenticated (health checks, provider webhooks)."""

    def dependency() -> None:
        return None

    setattr(dependency, PUBLIC_ATTRIBUTE, reason)
    return dependency


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every API route of the app as mounted (prefixes and router dependencies applied)."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def route_access(route: APIRoute | RouteContext) -> tuple[str | None, str | None]:
    """(permission, public reason) that a route declared, found in its dependency tree."""
    permission: str | None = None
    reason: str | None = None
    stack: list[Any] = [route.dependant]
    while stack:
        dependant = stack.pop()
        call = dependant.call
        if call is not None:
            permission = permission or getattr(call, PERMISSION_ATTRIBUTE, None)
            reason = reason or getattr(call, PUBLIC_ATTRIBUTE, None)
        stack.extend(dependant.dependencies)
    return permission, reason
