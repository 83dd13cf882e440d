"""IVR tests: the installed platform (calls, loopback, ivr...), a tenant, and requests acting
as one of its users holding every IVR and calls permission."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from ivr_helpers import IVR_ALL

from kernel import Platform
from kernel.testing import app_client, create_tenant
from plugins.calls import PERMISSIONS as CALLS_PERMISSIONS

CALLS_ALL = tuple(p.key for p in CALLS_PERMISSIONS)


@pytest.fixture
async def app(kraliki_make_app):
    return await kraliki_make_app(background_workers=False)


@pytest.fixture
def platform(app) -> Platform:
    platform: Platform = app.state.platform
    return platform


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as http:
        yield http


@pytest.fixture
async def tenant(app, kraliki_authenticate) -> uuid.UUID:
    tenant_id = await create_tenant(app.state.platform, "acme")
    kraliki_authenticate(app, *IVR_ALL, *CALLS_ALL, kind="user", tenant_id=tenant_id)
    return tenant_id
