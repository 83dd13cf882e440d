"""system plugin: operators see what is loaded and which hooks fail."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def kraliki_extra_plugins(make_failing_plugin):
    return [make_failing_plugin]


@pytest.fixture
def make_failing_plugin():
    from kernel import PluginInfo, hookimpl

    class Failing:
        __name__ = "flaky"

        @hookimpl
        def kraliki_plugin_info(self):
            return PluginInfo(name="flaky", version="0.3.0", requires=("system>=0.1",))

        @hookimpl
        def kraliki_startup(self, platform):
            raise RuntimeError("provider unreachable")

    return Failing()


async def test_listing_requires_the_permission(kraliki_client):
    response = await kraliki_client.get("/api/v1/system/plugins")
    assert response.status_code == 401
    assert response.json()["type"] == "/problems/unauthenticated"


async def test_lists_plugins_with_versions_permissions_and_hook_failures(
    kraliki_app, kraliki_client, kraliki_authenticate, kraliki_platform
):
    kraliki_authenticate(kraliki_app, "system.plugins:read")
    response = await kraliki_client.get("/api/v1/system/plugins")
    assert response.status_code == 200
    body = response.json()
    plugins = {plugin["name"]: plugin for plugin in body["plugins"]}
    assert plugins["system"]["permissions"] == ["system.plugins:read"]
    assert plugins["system"]["distribution"].startswith("kraliki-voice ")
    assert plugins["system"]["hook_failures"] == {}
    assert plugins["flaky"] == {
        "name": "flaky",
        "version": "0.3.0",
        "description": "",
        "requires": ["system>=0.1"],
        "route_prefix": "flaky",
        "core": False,
        "permissions": [],
        "distribution": None,
        "hook_failures": {"kraliki_startup": 1},
    }
    assert plugins["tenants"]["core"] is True
    # Every loaded plugin, in dependency order: each after what it requires, otherwise in
    # the order they were found (installed plugins other than the built-ins may be anywhere).
    assert list(plugins) == kraliki_platform.plugins.names()
    builtins = ["calls", "system", "tenants", "webhooks", "flaky", "ivr", "loopback"]
    builtins += ["telnyx", "twilio"]
    assert [name for name in plugins if name in builtins] == builtins, "dependency order"
    for name, plugin in plugins.items():
        required = {re.split(r"[<>=!~ ;]", r, maxsplit=1)[0] for r in plugin["requires"]}
        assert required <= set(list(plugins)[: list(plugins).index(name)]), name
