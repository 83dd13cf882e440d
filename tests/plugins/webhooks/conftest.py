"""Webhooks tests: a shop plugin that publishes order events, a real receiver on loopback,
and an app whose background workers are off so each test drives dispatch and jobs itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from webhook_helpers import ALL, SHOP_READ, OrderPaid, OrderPlaced, make_tenant

from plugins.webhooks.testing import WebhookReceiver


@pytest.fixture
def kraliki_extra_plugins(make_plugin):
    return [
        make_plugin("shop", permissions=[SHOP_READ], event_types=lambda: [OrderPlaced, OrderPaid])
    ]


@pytest.fixture
def webhook_settings(monkeypatch) -> Callable[..., None]:
    """Set ``KRALIKI_WEBHOOKS_*`` for the app built next (they are read at start)."""

    def apply(**values: Any) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"KRALIKI_WEBHOOKS_{key.upper()}", str(value))

    return apply


@pytest.fixture(autouse=True)
def fast_schedule(webhook_settings):
    """Four attempts 0.2 s apart, no jitter; loopback allowed (explicitly, as an operator
    would); tests of the refusal turn it off again."""
    webhook_settings(allow_private_networks="true", retry_schedule="0.2,0.2,0.2", retry_jitter="0")


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with WebhookReceiver() as server:
        yield server


@pytest.fixture
async def app(kraliki_make_app):
    # The breakers stay out of the way here (one test is about them).
    return await kraliki_make_app(background_workers=False, breaker_failure_threshold=100)


@pytest.fixture
def platform(app):
    return app.state.platform


@pytest.fixture
async def client(app):
    from kernel.testing import app_client

    async with app_client(app) as http:
        yield http


@pytest.fixture
async def tenant(app, kraliki_authenticate) -> uuid.UUID:
    """A tenant; requests act as one of its users holding every webhooks permission."""
    tenant_id = await make_tenant(app.state.platform, "acme")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant_id)
    return tenant_id
