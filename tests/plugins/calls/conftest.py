"""Calls tests: the installed platform plus the in-process fakeline provider, a tenant with
its signing secret, and requests acting as one of its users holding every calls permission."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from calls_helpers import ALL, SECRET, provision

from kernel.testing import app_client
from plugins.calls.testing import fakeline_plugin, fakeline_webhook


@pytest.fixture
def kraliki_extra_plugins():
    return [fakeline_plugin()]


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False, breaker_failure_threshold=3)


@pytest.fixture
def platform(app):
    return app.state.platform


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http:
        yield http


@pytest.fixture
async def tenant(app, kraliki_authenticate) -> uuid.UUID:
    tenant_id = await provision(app.state.platform, "acme")
    kraliki_authenticate(app, *ALL, kind="user", tenant_id=tenant_id)
    return tenant_id


WebhookSender = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def send(client, tenant) -> WebhookSender:
    """Send a signed fakeline webhook for the tenant: ``await send([{...}], kind=...)``."""

    async def post(events: list[dict[str, Any]], **options: Any) -> httpx.Response:
        options.setdefault("secret", SECRET)
        tenant_id = options.pop("tenant_id", tenant)
        secret = options.pop("secret")
        return await fakeline_webhook(client, tenant_id, secret, events, **options)

    return post


@pytest.fixture
def place(client, tenant) -> Callable[..., Awaitable[dict[str, Any]]]:
    async def place_call(**body: Any) -> dict[str, Any]:
        body.setdefault("to", "+14155550100")
        body.setdefault("from", "+14155550199")
        response = await client.post("/api/v1/calls", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    return place_call
