"""Twilio tests run against the Twilio double: a platform with calls and twilio loaded, whose
Twilio API is the double and whose public base URL is a stand-in webhook endpoint."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import stamina
from fastapi import FastAPI
from twilio_helpers import Receiver, store_credentials

import plugins.twilio.plugin
from kernel import Platform
from kernel.testing import create_tenant, installed_plugin, serve_app
from plugins.twilio.testing import TwilioDouble

ATTEMPTS = 3


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """Retries without their backoff, three attempts a call."""
    with stamina.set_testing(True, attempts=ATTEMPTS):
        yield


@pytest.fixture
async def double() -> AsyncIterator[TwilioDouble]:
    async with TwilioDouble() as server:
        yield server


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    async with serve_app(receiver.app) as url:
        receiver.url = url
        yield receiver


def with_twilio(installed: list[object]) -> list[object]:
    """The installed plugins plus calls and twilio, unless they are installed already."""
    loaded = {getattr(plugin, "obj", plugin) for plugin in installed}
    return installed + [
        p for p in (installed_plugin("calls"), plugins.twilio.plugin) if p not in loaded
    ]


MakeApp = Callable[..., Awaitable[FastAPI]]
MakePlatform = Callable[..., Awaitable[Platform]]


@pytest.fixture
def make_app(
    kraliki_make_app: Any,
    kraliki_installed_plugins: list[object],
    double: TwilioDouble,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> MakeApp:
    """A started app whose Twilio is the double: ``await make_app(twilio_timeout=0.3)``."""

    async def make(*, twilio_timeout: float = 5.0, **overrides: Any) -> FastAPI:
        monkeypatch.setenv("KRALIKI_TWILIO_API_BASE_URL", double.url)
        monkeypatch.setenv("KRALIKI_TWILIO_TIMEOUT_SECONDS", str(twilio_timeout))
        monkeypatch.setenv("KRALIKI_CALLS_PUBLIC_BASE_URL", receiver.url)
        settings: dict[str, Any] = {"background_workers": False, "breaker_failure_threshold": 4}
        app: FastAPI = await kraliki_make_app(
            plugins=with_twilio(kraliki_installed_plugins),
            **(settings | overrides),
        )
        receiver.platform = app.state.platform
        return app

    return make


@pytest.fixture
def make_platform(make_app: MakeApp) -> MakePlatform:
    """The platform of a ``make_app`` app."""

    async def make(**options: Any) -> Platform:
        platform: Platform = (await make_app(**options)).state.platform
        return platform

    return make


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform()


@pytest.fixture
async def tenant(platform: Platform, double: TwilioDouble) -> uuid.UUID:
    """A tenant whose Twilio account is the double's first one."""
    tenant_id = await create_tenant(platform, "acme")
    await store_credentials(platform, tenant_id, double.account_sid, double.auth_token)
    return tenant_id
