"""Telnyx tests: a Telnyx double on loopback, an app with calls and telnyx loaded and pointed
at it, a tenant whose vault holds the double's account, and that tenant's provider."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import stamina
from telnyx_helpers import PUBLIC_BASE_URL, calling_tenant, provider_for, store_secrets, with_telnyx

from kernel import Platform
from kernel.testing import create_tenant, serve_app
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS
from plugins.calls.testing import use_public_base_url
from plugins.telnyx.provider import TelnyxProvider
from plugins.telnyx.testing import TelnyxDouble


@pytest.fixture(autouse=True)
def quick_retries() -> Iterator[None]:
    """Three attempts, no waits between them: the retry counts are real, the time is not."""
    stamina.set_testing(True, attempts=3)
    yield
    stamina.set_testing(False)


@pytest.fixture
async def telnyx() -> AsyncIterator[TelnyxDouble]:
    async with TelnyxDouble() as double:
        yield double


@pytest.fixture
def telnyx_env(monkeypatch: pytest.MonkeyPatch, telnyx: TelnyxDouble) -> None:
    monkeypatch.setenv("KRALIKI_TELNYX_API_BASE_URL", telnyx.api_base_url)
    monkeypatch.setenv("KRALIKI_CALLS_PUBLIC_BASE_URL", PUBLIC_BASE_URL)


@pytest.fixture
async def app(kraliki_make_app, kraliki_installed_plugins, telnyx_env):
    return await kraliki_make_app(
        plugins=with_telnyx(kraliki_installed_plugins),
        background_workers=False,
        outbound_timeout_seconds=1.0,
        breaker_failure_threshold=5,
    )


@pytest.fixture
def platform(app) -> Platform:
    return app.state.platform


@pytest.fixture
async def tenant(platform: Platform, telnyx: TelnyxDouble) -> uuid.UUID:
    tenant_id = await create_tenant(platform, "acme")
    await store_secrets(platform, tenant_id, telnyx)
    return tenant_id


@pytest.fixture
def provider(platform: Platform, tenant: uuid.UUID) -> TelnyxProvider:
    return provider_for(platform, tenant)


# --- end to end: the app served on loopback, an organization calling through the double ---


@pytest.fixture
async def served(app, platform) -> AsyncIterator[str]:
    async with serve_app(app) as url:
        use_public_base_url(platform, url)
        yield url


@pytest.fixture
async def acme(app, platform, telnyx, kraliki_authenticate) -> uuid.UUID:
    tenant_id = await calling_tenant(platform, "acme", telnyx)
    kraliki_authenticate(app, *(p.key for p in CALLS_PERMISSIONS), kind="user", tenant_id=tenant_id)
    return tenant_id


@pytest.fixture
async def api(served, acme) -> AsyncIterator[httpx.AsyncClient]:
    # Time for a worker's first call on a machine the other worker keeps busy (a CI run
    # once saw a first call take more than 30 s there; alone it takes half a second).
    async with httpx.AsyncClient(base_url=served, timeout=90) as client:
        yield client
