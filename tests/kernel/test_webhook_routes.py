"""kraliki_webhook_routes: public provider callbacks under /webhooks/<plugin prefix>."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends, Request

from kernel import Permission, PluginError, Principal, create_app, public, require
from kernel.testing import app_client


def _router(access: object | None) -> APIRouter:
    router = APIRouter()
    dependencies = [Depends(access)] if access is not None else []

    @router.post("/{tenant_id}/status", dependencies=dependencies)
    async def status(tenant_id: str, request: Request) -> dict[str, str]:
        return {"tenant": tenant_id, "body": (await request.body()).decode()}

    return router


async def test_webhook_routes_are_mounted_under_webhooks_and_public(make_plugin, kraliki_settings):
    plugin = make_plugin(
        "acme_tel",
        webhook_routes=lambda: [_router(public("signed by the provider"))],
    )
    app = create_app(kraliki_settings, plugins=[plugin])
    async with app_client(app) as client:
        response = await client.post("/webhooks/acme-tel/t1/status", content=b"CallSid=CA1")
        assert response.status_code == 200
        assert response.json() == {"tenant": "t1", "body": "CallSid=CA1"}
        assert (await client.post("/api/v1/acme-tel/t1/status")).status_code == 404
    tags = {
        tag
        for path, item in app.openapi()["paths"].items()
        if path.startswith("/webhooks/")
        for operation in item.values()
        for tag in operation["tags"]
    }
    assert tags == {"acme_tel"}


def test_webhook_route_without_public_marker_stops_the_app(make_plugin, kraliki_settings):
    plugin = make_plugin("acme_tel", webhook_routes=lambda: [_router(None)])
    with pytest.raises(PluginError, match=r"webhook route /\{tenant_id\}/status must be marked"):
        create_app(kraliki_settings, plugins=[plugin])


def test_webhook_route_requiring_a_permission_stops_the_app(make_plugin, kraliki_settings):
    permission = Permission("acme.calls", "read", "Read.", ("admin",))

    async def needs(principal: Annotated[Principal, Depends(require("acme.calls", "read"))]):
        return principal

    plugin = make_plugin(
        "acme_tel", permissions=[permission], webhook_routes=lambda: [_router(needs)]
    )
    with pytest.raises(PluginError, match="must be marked"):
        create_app(kraliki_settings, plugins=[plugin])


def test_webhook_routes_must_be_routers(make_plugin, kraliki_settings):
    plugin = make_plugin("acme_tel", webhook_routes=lambda: ["not a router"])
    with pytest.raises(PluginError, match="kraliki_webhook_routes returned"):
        create_app(kraliki_settings, plugins=[plugin])
