"""Every route of the installed platform declares its permission or says why it is public."""

from __future__ import annotations

from kernel._auth import api_routes, route_access


async def test_every_route_declares_access(kraliki_app):
    routes = api_routes(kraliki_app)
    assert routes, "the app has routes"
    undeclared = [
        f"{sorted(route.methods or ())} {route.path}"
        for route in routes
        if route_access(route) == (None, None)
    ]
    assert undeclared == []


async def test_every_required_permission_is_declared(kraliki_app):
    permissions = kraliki_app.state.platform.permissions
    for route in api_routes(kraliki_app):
        permission, _ = route_access(route)
        if permission is not None:
            assert permission in permissions, route.path


async def test_public_routes_are_the_expected_few(kraliki_app):
    public = {route.path for route in api_routes(kraliki_app) if route_access(route)[1]}
    assert public == {
        "/healthz",
        "/readyz",
        "/problems/{slug}",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/invitations/accept",
        "/api/v1/auth/register",
        "/webhooks/twilio/{tenant_id}/{kind}",
        "/webhooks/telnyx/{tenant_id}/{kind}",
        "/webhooks/loopback/{tenant_id}/{kind}",
        "/webhooks/stripe/{tenant_id}",
        "/docs",
        "/redoc",
        # The agent page's static files: the page signs in through the API.
        "/api/v1/agents/page",
        "/api/v1/agents/page/",
        "/api/v1/agents/page/agent-page.js",
        "/api/v1/agents/page/agent-page.css",
        "/api/v1/agents/page/favicon.svg",
        "/api/v1/agents/page/panels.json",
        "/api/v1/campaigns/page/preview-panel.js",
        "/api/v1/campaigns/page/preview-panel.css",
        "/api/v1/agent-assist/page/assist-panel.js",
        "/api/v1/payments/page/capture-panel.js",
        "/api/v1/payments/page/capture-panel.css",
        "/api/v1/agent-assist/page/assist-panel.css",
        # The wallboard's static files: the page signs in through the API.
        "/api/v1/supervisor/wallboard/page",
        "/api/v1/supervisor/wallboard/page/",
        "/api/v1/supervisor/wallboard/page/wallboard.js",
        "/api/v1/supervisor/wallboard/page/wallboard.css",
        "/api/v1/supervisor/wallboard/page/favicon.svg",
    }
