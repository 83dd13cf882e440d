"""Loopback tests: an app with calls and loopback (not entry points yet), the carrier at a
hundredth of real time, a tenant, and a receiver standing in for the webhook route."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from loopback_helpers import Receiver, provider_for

import plugins.loopback.plugin
from kernel import Platform
from kernel.testing import create_tenant, installed_plugin, serve_app
from plugins.calls.testing import use_public_base_url
from plugins.loopback.provider import LoopbackProvider
from plugins.loopback.testing import loopback_calls  # noqa: F401 (a fixture)


@pytest.fixture(autouse=True)
def fast_carrier(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 2 s ring takes 20 ms; read when the app is built."""
    monkeypatch.setenv("KRALIKI_LOOPBACK_TIME_SCALE", "0.01")


@pytest.fixture
def loopback_plugins(kraliki_installed_plugins: list[object]) -> list[object]:
    """The installed plugins, calls (should it not be installed) and loopback."""
    loaded = {getattr(p, "obj", p) for p in kraliki_installed_plugins}
    extra = [p for p in (installed_plugin("calls"), plugins.loopback.plugin) if p not in loaded]
    return [*kraliki_installed_plugins, *extra]


@pytest.fixture
async def app(kraliki_make_app, loopback_plugins):
    return await kraliki_make_app(plugins=loopback_plugins, background_workers=False)


@pytest.fixture
def platform(app) -> Platform:
    platform: Platform = app.state.platform
    return platform


@pytest.fixture
async def tenant(platform: Platform) -> uuid.UUID:
    return await create_tenant(platform, "acme")


@pytest.fixture
async def other_tenant(platform: Platform) -> uuid.UUID:
    return await create_tenant(platform, "globex")


@pytest.fixture
async def receiver(platform: Platform) -> AsyncIterator[Receiver]:
    receiver = Receiver(platform)
    async with serve_app(receiver.app()) as url:
        receiver.url = url
        use_public_base_url(platform, url)
        yield receiver


@pytest.fixture
def provider(platform: Platform, tenant: uuid.UUID) -> LoopbackProvider:
    return provider_for(platform, tenant)


@pytest.fixture
def carrier(receiver: Receiver, platform: Platform, tenant: uuid.UUID) -> LoopbackProvider:
    """The tenant's provider once the receiver listens (webhook URLs are fixed when a
    provider is built)."""
    return provider_for(platform, tenant)
