"""agent_assist tests: the installed platform, a tenant with its owner logged in through the
real login route, users of other roles (``as_role``); ``loopback_calls`` for the tests that
need calls running on the loopback carrier (a served app with its workers)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from kernel import Platform
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, login
from plugins.loopback import testing

loopback_calls = testing.loopback_calls


@pytest.fixture
def platform(kraliki_platform: Platform) -> Platform:
    return kraliki_platform


@pytest.fixture
def client(kraliki_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return kraliki_client


@pytest.fixture
async def owner(kraliki_make_owner) -> TenantOwner:
    owner: TenantOwner = await kraliki_make_owner("acme")
    return owner


RoleLogin = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
def as_role(kraliki_client, kraliki_make_user, owner: TenantOwner) -> RoleLogin:
    """``headers = await as_role("agent")``: a new user of the tenant with that role."""

    async def make(role: str) -> dict[str, str]:
        email = f"{role}-{uuid.uuid4().hex[:8]}@{owner.slug}.example.com"
        await kraliki_make_user(owner.tenant_id, email, roles=[role])
        return await login(kraliki_client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)

    return make
