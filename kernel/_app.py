"""Builds the FastAPI application from the settings and the loaded plugins."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from kernel import _health
from kernel._auth import (
    PLUGIN_ATTRIBUTE,
    api_routes,
    checks_in_protocol,
    mark_plugin_routes,
    route_access,
    websocket_routes,
)
from kernel._cors import install_cors
from kernel._dbrole import check_database_role
from kernel._docs_ui import install_docs_ui
from kernel._errors import PluginError
from kernel._identity.routes import identity_routers
from kernel._input import InputGuardMiddleware
from kernel._observability.metrics import install_request_metrics, metrics_router
from kernel._observability.tracing import TraceContextMiddleware
from kernel._openapi import install_openapi
from kernel._platform import Platform, build_platform
from kernel._problems import install_problem_handlers, problem_types
from kernel._realtime import sse as realtime_sse
from kernel._realtime import websocket as realtime_websocket
from kernel._resilience.errors import DependencyError, handle_dependency_error
from kernel._resilience.routes import router as resilience_router
from kernel._settings import Settings
from kernel._vault.keys import KeyProviderError
from kernel._vault.problems import handle_vault_unavailable
from kernel._vault.routes import router as vault_router
from kernel._vault.service import SecretUnavailableError
from kernel._version import __version__

API_PREFIX = "/api/v1"
WEBHOOK_PREFIX = "/webhooks"
"""Where ``kraliki_webhook_routes`` are mounted: ``/webhooks/<plugin prefix>/...``."""


def _operation_id(route: APIRoute) -> str:
    # Stable, readable ids for generated clients: "<tag>-<function name>".
    tag = route.tags[0] if route.tags else "kernel"
    return f"{tag}-{route.name}"


def create_app(settings: Settings | None = None, *, plugins: list[Any] | None = None) -> FastAPI:
    """The ASGI app. ``plugins`` replaces entry-point discovery (tests, embedding)."""
    platform = build_platform(settings or Settings(), plugins)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await check_database_role(platform.database, platform.settings)
        await platform.vault.provider()  # a missing or broken master key shows at start
        await platform.hooks.startup(platform)
        platform.realtime.start()  # listens to dispatches before the workers make any
        await platform.start_background()
        try:
            yield
        finally:
            await platform.realtime.stop()  # clients hear 1001 while the database is there
            await platform.stop_background()
            await platform.hooks.shutdown(platform)
            await platform.close_outbound()
            await platform.identity.drain()
            await platform.database.dispose()
            platform.tracing.shutdown()

    app = FastAPI(
        title="Kraliki Voice",
        version=__version__,
        summary="Multi-tenant, plugin-based cloud contact center platform.",
        openapi_url="/openapi.json",
        docs_url=None,  # served with local assets by install_docs_ui
        redoc_url=None,
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        telemetry=platform.tracing.fastapi_telemetry(),
    )
    app.state.platform = platform
    # Innermost middleware: inside the problem handlers, so its own failures are problems too.
    app.add_middleware(InputGuardMiddleware, exempt=(WEBHOOK_PREFIX + "/",))
    install_problem_handlers(app)
    app.add_exception_handler(DependencyError, handle_dependency_error)
    for vault_failure in (KeyProviderError, SecretUnavailableError):
        app.add_exception_handler(vault_failure, handle_vault_unavailable)
    app.include_router(_health.router)
    app.include_router(_problems_router())
    install_docs_ui(app)
    if platform.settings.metrics_port is None:  # else `kraliki serve` serves it on that port
        app.include_router(metrics_router())
    kernel_routers = [
        *identity_routers(),
        resilience_router,
        vault_router,
        realtime_websocket.router,
        realtime_sse.router,
    ]
    for kernel_router in kernel_routers:
        app.include_router(kernel_router, prefix=API_PREFIX)
    for plugin_name, routers in platform.hooks.routes():
        plugin = platform.plugins.get(plugin_name)
        prefix = API_PREFIX if plugin.core else f"{API_PREFIX}/{plugin.info.prefix}"
        for router in routers if isinstance(routers, list | tuple) else [routers]:
            if not isinstance(router, APIRouter):
                raise PluginError(f"plugin {plugin_name!r}: kraliki_routes returned {router!r}")
            app.include_router(router, prefix=prefix, tags=[plugin_name])
            mark_plugin_routes(router, plugin_name)
    for plugin_name, routers in platform.hooks.webhook_routes():
        prefix = f"{WEBHOOK_PREFIX}/{platform.plugins.get(plugin_name).info.prefix}"
        for router in routers if isinstance(routers, list | tuple) else [routers]:
            if not isinstance(router, APIRouter):
                raise PluginError(
                    f"plugin {plugin_name!r}: kraliki_webhook_routes returned {router!r}"
                )
            check_webhook_routes_public(plugin_name, router)
            app.include_router(router, prefix=prefix, tags=[plugin_name])
            mark_plugin_routes(router, plugin_name)
    check_route_access(app, platform)
    install_openapi(
        app,
        tags={p.info.name: p.info.description for p in platform.plugins.plugins},
        disableable=[p.info.name for p in platform.plugins.plugins if not p.core],
    )
    install_request_metrics(app, platform)
    app.add_middleware(TraceContextMiddleware, tracing=platform.tracing)
    install_cors(app, platform.settings)  # outermost: preflights go no further
    return app


def check_route_access(app: FastAPI, platform: Platform) -> None:
    """Refuse to start if a route declares no access rule or an undeclared permission."""
    allowed_owners = _permission_owners_by_plugin(platform)
    for socket in websocket_routes(app):
        # Neither require() nor public() can read a WebSocket's handshake: such a route
        # authenticates in its protocol and says which permission it checks.
        if not checks_in_protocol(socket):
            raise PluginError(
                f"WebSocket route {socket.path} declares no permission: add "
                "Depends(authenticates_itself(...)) and check the permission in the endpoint"
            )
    for route in [*api_routes(app), *websocket_routes(app)]:
        permission, reason = route_access(route)
        where = f"{sorted(route.methods or ['WEBSOCKET'])} {route.path}"
        if permission is None and reason is None:
            raise PluginError(
                f"route {where} declares no permission: add Depends(require(...)) "
                "or Depends(public('why'))"
            )
        if permission is None:
            continue
        if permission not in platform.permissions:
            raise PluginError(
                f"route {where} requires {permission!r}, which no loaded plugin declares "
                "in kraliki_permissions"
            )
        tags = getattr(route, "tags", None)  # WebSocket routes have none: use the mark
        plugin = getattr(route.original_route, PLUGIN_ATTRIBUTE, None) or (
            tags[0] if tags else "kernel"
        )
        owner = platform.permissions.owner(permission)
        if plugin in allowed_owners and owner not in allowed_owners[plugin]:
            raise PluginError(
                f"route {where} of plugin {plugin!r} requires {permission!r}, declared by "
                f"{owner!r}, which {plugin!r} does not require"
            )


def check_webhook_routes_public(plugin: str, router: APIRouter) -> None:
    """Webhook routes have no caller to authorize: each must say it is public (and verify
    its requests itself); a ``require(...)`` there could never be met."""
    for context in iter_route_contexts(router.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            raise PluginError(f"plugin {plugin!r}: webhook routes must be HTTP routes")
        permission, reason = route_access(context)
        if permission is not None or reason is None:
            raise PluginError(
                f"plugin {plugin!r}: webhook route {route.path} must be marked "
                "Depends(public('why')) and verify its requests itself"
            )


def _permission_owners_by_plugin(platform: Platform) -> dict[str, set[str]]:
    """Each plugin may check its own permissions and those of its (transitive) requirements."""
    return {
        name: {name, "kernel", *required}
        for name, required in platform.plugins.transitive_requirements().items()
    }


def _problems_router() -> APIRouter:
    from fastapi import Depends

    from kernel._auth import public
    from kernel._problems import NOT_FOUND, ProblemError

    router = APIRouter(tags=["problems"])

    @router.get(
        "/problems/{slug}",
        dependencies=[Depends(public("documentation of error types"))],
        summary="Describe a problem type (the `type` URI of an error body)",
    )
    async def describe_problem(slug: str) -> dict[str, Any]:
        for problem in problem_types():
            if problem.slug == slug:
                return {
                    "type": problem.uri,
                    "title": problem.title,
                    "status": problem.status,
                    "description": problem.description,
                }
        raise ProblemError(NOT_FOUND, f"no problem type {slug!r}")

    return router
