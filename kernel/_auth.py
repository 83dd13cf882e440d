"""Who is calling, and the one dependency every route uses to declare its permission.

Credentials (access tokens, API keys) are checked by ``kernel._identity.authn``; routes and
plugins only ever see :class:`Principal` and :func:`require`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, WebSocket
from fastapi.routing import APIRoute, APIWebSocketRoute, RouteContext, iter_route_contexts

from kernel._observability.tracing import (
    ACCESS,
    PERMISSION,
    PLUGIN_NAME,
    PRINCIPAL_KIND,
    TENANT_ID,
    annotate_span,
)
from kernel._principal import Principal
from kernel._problems import FORBIDDEN, NOT_FOUND, ProblemError
from kernel._tenancy import tenant_scope
from kernel.deps import SessionDep

PERMISSION_ATTRIBUTE = "__kraliki_permission__"
PUBLIC_ATTRIBUTE = "__kraliki_public__"
PLUGIN_ATTRIBUTE = "__kraliki_plugin__"
IN_PROTOCOL_ATTRIBUTE = "__kraliki_in_protocol__"


async def current_principal(request: Request, session: SessionDep) -> Principal:
    """The authenticated caller of this request (from its bearer credential), or a 401."""
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal
    from kernel._identity.authn import authenticate

    principal = await authenticate(request, session)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(resource: str, action: str) -> Callable[..., AsyncIterator[Principal]]:
    """A dependency that admits only callers holding ``<resource>:<action>``.

    Use as ``principal: Annotated[Principal, Depends(require("calls", "create"))]`` or in a
    route's ``dependencies=[...]``. The permission must be declared through
    ``kraliki_permissions``; the app refuses to start otherwise. A plugin the caller's tenant
    disabled answers 404, as if it were not installed.
    """
    key = f"{resource}:{action}"

    async def dependency(request: Request, principal: CurrentPrincipal) -> AsyncIterator[Principal]:
        plugin = route_plugin(request)
        annotate_span(
            {
                PERMISSION: key,
                PLUGIN_NAME: plugin,
                PRINCIPAL_KIND: principal.kind,
                TENANT_ID: str(principal.tenant_id) if principal.tenant_id else None,
            }
        )
        if plugin in principal.disabled_plugins:
            raise ProblemError(NOT_FOUND, "this feature is not enabled for your organization")
        if not principal.can(resource, action):
            raise ProblemError(FORBIDDEN, f"this action needs the permission {key!r}")
        # The rest of the request acts for the caller's tenant (None for operators).
        with tenant_scope(principal.tenant_id):
            yield principal

    setattr(dependency, PERMISSION_ATTRIBUTE, key)
    dependency.__name__ = f"require_{resource}_{action}".replace(".", "_").replace("-", "_")
    return dependency


def public(reason: str) -> Callable[[Request], Awaitable[None]]:
    """Mark a route as deliberately unauthenticated (health checks, provider webhooks)."""

    async def dependency(request: Request) -> None:  # async: no hop to the thread pool
        annotate_span({ACCESS: "public", PLUGIN_NAME: route_plugin(request)})

    setattr(dependency, PUBLIC_ATTRIBUTE, reason)
    return dependency


def authenticates_itself(resource: str, action: str) -> Callable[[WebSocket], Awaitable[None]]:
    """Declare the permission of a WebSocket route, which authenticates inside its own
    protocol (browsers cannot send an ``Authorization`` header on a WebSocket).

    The dependency admits every connection: the endpoint must authenticate the client and
    refuse it unless it holds ``<resource>:<action>``. The declaration makes the route pass
    the start-up access check and shows in ``kraliki routes``.
    """
    key = f"{resource}:{action}"

    async def dependency(websocket: WebSocket) -> None:
        annotate_span({PERMISSION: key, PLUGIN_NAME: route_plugin(websocket)})

    setattr(dependency, PERMISSION_ATTRIBUTE, key)
    setattr(dependency, IN_PROTOCOL_ATTRIBUTE, True)
    return dependency


def route_plugin(request: Request | WebSocket) -> str:
    """The plugin that owns the matched route (``kernel`` for the kernel's own routes)."""
    return getattr(request.scope.get("route"), PLUGIN_ATTRIBUTE, None) or "kernel"


def mark_plugin_routes(router: APIRouter, plugin: str) -> None:
    """Label a plugin's routes with its name, so that ``require`` can answer 404 when the
    caller's tenant disabled that plugin (the matched route is the plugin's own object)."""
    for context in iter_route_contexts(router.routes):
        setattr(context.original_route, PLUGIN_ATTRIBUTE, plugin)


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every API route of the app as mounted (prefixes and router dependencies applied)."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIRoute)
    ]


def websocket_routes(app: FastAPI) -> list[RouteContext]:
    """Every WebSocket route of the app as mounted."""
    return [
        context
        for context in iter_route_contexts(app.routes)
        if isinstance(context.original_route, APIWebSocketRoute)
    ]


def route_access(route: APIRoute | RouteContext) -> tuple[str | None, str | None]:
    """(permission, public reason) that a route declared, found in its dependency tree."""
    permission: str | None = None
    reason: str | None = None
    for call in dependency_calls(route):
        permission = permission or getattr(call, PERMISSION_ATTRIBUTE, None)
        reason = reason or getattr(call, PUBLIC_ATTRIBUTE, None)
    return permission, reason


def checks_in_protocol(route: RouteContext) -> bool:
    """Whether a route declared its permission with :func:`authenticates_itself`."""
    return any(getattr(call, IN_PROTOCOL_ATTRIBUTE, False) for call in dependency_calls(route))


def dependency_calls(route: APIRoute | RouteContext) -> list[Any]:
    calls: list[Any] = []
    stack: list[Any] = [route.dependant]
    while stack:
        dependant = stack.pop()
        if dependant.call is not None:
            calls.append(dependant.call)
        stack.extend(dependant.dependencies)
    return calls
