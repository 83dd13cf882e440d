"""The app the kernel builds: mounting, route access, OpenAPI, lifespan hooks."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import APIRouter, Depends

from kernel import (
    Permission,
    PluginConflictError,
    PluginError,
    Principal,
    UniqueRegistry,
    hookspec,
    public,
    require,
)
from kernel._auth import api_routes, route_access
from kernel.testing import app_client

READ = Permission("widgets", "read", "Read widgets")


def widgets_router() -> APIRouter:
    router = APIRouter()

    @router.get("/widgets")
    async def list_widgets(
        principal: Annotated[Principal, Depends(require("widgets", "read"))],
    ) -> dict[str, str]:
        return {"caller": principal.subject}

    @router.get("/status", dependencies=[Depends(public("status page"))])
    async def widget_status() -> dict[str, str]:
        return {"status": "green"}

    return router


@pytest.fixture
def kraliki_installed_plugins():
    return []


async def test_routes_mount_under_plugin_prefix_with_tag(kraliki_make_app, make_plugin):
    plugin = make_plugin("widget_shop", permissions=[READ], routers=[widgets_router()])
    app = await kraliki_make_app(plugins=[plugin])
    paths = {route.path: route for route in api_routes(app)}
    assert "/api/v1/widget-shop/widgets" in paths
    assert paths["/api/v1/widget-shop/widgets"].tags == ["widget_shop"]
    assert route_access(paths["/api/v1/widget-shop/widgets"]) == ("widgets:read", None)
    assert route_access(paths["/api/v1/widget-shop/status"]) == (None, "status page")


async def test_require_answers_401_403_then_200(
    kraliki_make_app, make_plugin, kraliki_authenticate
):
    app = await kraliki_make_app(
        plugins=[make_plugin("widget_shop", permissions=[READ], routers=[widgets_router()])]
    )
    async with app_client(app) as client:
        anonymous = await client.get("/api/v1/widget-shop/widgets")
        assert anonymous.status_code == 401
        assert anonymous.headers["content-type"] == "application/problem+json"
        assert anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.json()["type"] == "/problems/unauthenticated"

        kraliki_authenticate(app, "other:read")
        forbidden = await client.get("/api/v1/widget-shop/widgets")
        assert forbidden.status_code == 403
        assert "widgets:read" in forbidden.json()["detail"]

        kraliki_authenticate(app, "widgets:read")
        allowed = await client.get("/api/v1/widget-shop/widgets")
        assert allowed.status_code == 200
        assert allowed.json() == {"caller": "test-operator"}

        assert (await client.get("/api/v1/widget-shop/status")).json() == {"status": "green"}


def test_route_without_declared_access_refuses_to_start(make_plugin, kraliki_settings):
    from kernel import create_app

    router = APIRouter()

    @router.get("/open")
    async def oops() -> None:
        return None

    with pytest.raises(PluginError, match=r"route \['GET'\] /api/v1/leaky/open declares no"):
        create_app(kraliki_settings, plugins=[make_plugin("leaky", routers=[router])])


def test_route_with_undeclared_permission_refuses_to_start(make_plugin, kraliki_settings):
    from kernel import create_app

    router = APIRouter()

    @router.get("/x", dependencies=[Depends(require("ghost", "read"))])
    async def ghost() -> None:
        return None

    with pytest.raises(PluginError, match="'ghost:read', which no loaded plugin declares"):
        create_app(kraliki_settings, plugins=[make_plugin("ghosts", routers=[router])])


async def test_openapi_has_plugin_tags_and_stable_operation_ids(kraliki_make_app, make_plugin):
    app = await kraliki_make_app(
        plugins=[make_plugin("widget_shop", permissions=[READ], routers=[widgets_router()])]
    )
    async with app_client(app) as client:
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    operation = spec["paths"]["/api/v1/widget-shop/widgets"]["get"]
    assert operation["tags"] == ["widget_shop"]
    assert operation["operationId"] == "widget_shop-list_widgets"
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


async def test_failing_startup_hook_does_not_stop_the_platform(kraliki_make_app, make_plugin):
    def broken(platform):
        raise RuntimeError("cannot reach the provider")

    started = []
    app = await kraliki_make_app(
        plugins=[
            make_plugin("flaky", startup=broken),
            make_plugin("steady", startup=lambda platform: started.append(platform)),
        ]
    )
    assert started == [app.state.platform]
    assert app.state.platform.hooks.failures[("flaky", "kraliki_startup")] == 1
    async with app_client(app) as client:
        assert (await client.get("/healthz")).status_code == 200


class ProviderSpecs:
    @hookspec
    def kraliki_telephony_providers(self):
        """Return provider names."""


def calls_like_plugin(make_plugin):
    """A plugin that owns an extension point and fills a registry in kraliki_configure."""

    def configure(platform):
        registry = UniqueRegistry[str]("telephony provider")
        for plugin, names in platform.hooks.collect_now("kraliki_telephony_providers"):
            for name in names:
                registry.register(name, name, plugin=plugin)
        platform.state["calls"] = registry

    return make_plugin("calls", add_hookspecs=lambda: ProviderSpecs, configure=configure)


def test_configure_builds_per_platform_state(make_plugin, kraliki_settings):
    from kernel import create_app

    app = create_app(
        kraliki_settings,
        plugins=[
            calls_like_plugin(make_plugin),
            make_plugin("twilio", requires=["calls"], telephony_providers=lambda: ["twilio"]),
        ],
    )
    assert list(app.state.platform.state["calls"]) == ["twilio"]


def test_duplicate_provider_names_stop_the_platform(make_plugin, kraliki_settings):
    from kernel import create_app

    with pytest.raises(PluginConflictError) as raised:
        create_app(
            kraliki_settings,
            plugins=[
                calls_like_plugin(make_plugin),
                make_plugin("twilio", requires=["calls"], telephony_providers=lambda: ["twilio"]),
                make_plugin(
                    "twilio_eu", requires=["calls"], telephony_providers=lambda: ["twilio"]
                ),
            ],
        )
    assert raised.value.plugins == ("twilio", "twilio_eu")


def test_route_may_only_check_permissions_of_required_plugins(make_plugin, kraliki_settings):
    from kernel import create_app

    router = APIRouter()

    @router.get("/peek", dependencies=[Depends(require("widgets", "read"))])
    async def peek() -> None:
        return None

    owner = make_plugin("widget_shop", permissions=[READ])
    with pytest.raises(PluginError, match="declared by 'widget_shop', which 'snoop' does not"):
        create_app(kraliki_settings, plugins=[owner, make_plugin("snoop", routers=[router])])
    create_app(
        kraliki_settings,
        plugins=[owner, make_plugin("friend", requires=["widget_shop"], routers=[router])],
    )
