"""Prometheus: the request middleware, hook and route plumbing, and ``/metrics``.

The middleware is plain ASGI (no ``BaseHTTPMiddleware``, which costs a task and a memory
stream per request) and labels requests by route template, never by raw path, so that ids
in URLs cannot blow up the number of series.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from time import perf_counter
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kernel._auth import PERMISSION_ATTRIBUTE, api_routes, current_principal
from kernel._identity.permissions import METRICS_READ
from kernel._metrics import Metrics
from kernel._observability.tracing import ACCESS, PERMISSION, PRINCIPAL_KIND, annotate_span
from kernel._platform import Platform, get_platform
from kernel._problems import FORBIDDEN, NOT_FOUND, UNAUTHENTICATED, ProblemError, problem_response
from kernel.deps import SessionDep

UNMATCHED_ROUTE = "unmatched"
"""Route label of requests no route matched (404s for made-up paths)."""

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_templates(app: FastAPI) -> dict[int, str]:
    """Matched route object -> its full template as mounted (FastAPI puts the router's own
    route in the scope, whose path lacks the include prefix)."""
    templates: dict[int, str] = {}
    for context in api_routes(app):
        if context.path_format is not None:
            templates.setdefault(id(context.original_route), context.path_format)
    return templates


class RequestMetricsMiddleware:
    """Counts every HTTP request and observes its latency per (method, route template)."""

    def __init__(self, app: ASGIApp, metrics: Metrics, templates: Mapping[int, str]) -> None:
        self.app = app
        self.requests = metrics.requests
        self.latency = metrics.request_latency
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = perf_counter()
        status = 500  # unless a response starts: the client saw an error or nothing

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            route = scope.get("route")
            template: str = UNMATCHED_ROUTE
            if route is not None:
                template = self.templates.get(id(route)) or str(
                    getattr(route, "path_format", template)
                )
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "_OTHER"
            self.requests.labels(method, template, str(status)).inc()
            self.latency.labels(method, template).observe(perf_counter() - started)


def install_request_metrics(app: FastAPI, platform: Platform) -> None:
    """Add the middleware (outermost of the kernel's, so error responses are counted too)."""
    app.add_middleware(
        RequestMetricsMiddleware, metrics=platform.metrics, templates=route_templates(app)
    )


def bearer_matches(authorization: str | None, expected: str) -> bool:
    """Whether an ``Authorization`` header carries ``expected`` (constant-time compare)."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


def render(metrics: Metrics) -> Response:
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


async def metrics_access(request: Request, session: SessionDep) -> None:
    """Admit the scraper's bearer token (``KRALIKI_METRICS_TOKEN``) or a caller holding
    ``platform.metrics:read`` (platform operators)."""
    token = get_platform(request).settings.metrics_token
    if token is not None and bearer_matches(
        request.headers.get("authorization"), token.get_secret_value()
    ):
        annotate_span({PERMISSION: METRICS_READ.key, ACCESS: "metrics-token"})
        return
    principal = await current_principal(request, session)
    annotate_span({PERMISSION: METRICS_READ.key, PRINCIPAL_KIND: principal.kind})
    if not principal.can(METRICS_READ.resource, METRICS_READ.action):
        raise ProblemError(FORBIDDEN, f"this needs the permission {METRICS_READ.key!r}")


setattr(metrics_access, PERMISSION_ATTRIBUTE, METRICS_READ.key)


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["observability"])

    @router.get(
        "/metrics",
        dependencies=[Depends(metrics_access)],
        response_class=Response,
        summary="Prometheus metrics of this process (text exposition format)",
        responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def metrics(request: Request) -> Response:
        return render(get_platform(request).metrics)

    return router


def metrics_listener_app(platform: Platform) -> ASGIApp:
    """The ASGI app of the separate metrics port (``KRALIKI_METRICS_PORT``): ``GET /metrics``
    and nothing else; no login there (meant for an internal network), but the metrics token
    is still required when one is set."""
    token = platform.settings.metrics_token

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        response: Any
        if scope["path"] != "/metrics" or scope["method"] not in ("GET", "HEAD"):
            response = problem_response(NOT_FOUND, "this port serves GET /metrics only")
        elif token is not None and not bearer_matches(
            Request(scope).headers.get("authorization"), token.get_secret_value()
        ):
            response = problem_response(
                UNAUTHENTICATED,
                "send `Authorization: Bearer <KRALIKI_METRICS_TOKEN>`",
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = render(platform.metrics)
        await response(scope, receive, send)

    return app


async def _lifespan(receive: Receive, send: Send) -> None:
    # The API's own server runs the platform's lifespan; this listener has none.
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
