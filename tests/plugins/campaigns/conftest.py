"""Campaigns tests: the installed platform, a tenant with its owner logged in through the real
login route, users of other roles (``as_role``), and ``world``: what a campaign names (a
number, a queue, a team, contacts, a segment, a published flow), made through the APIs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from campaigns_helpers import World, make_world

from kernel import Platform
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, login


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


@pytest.fixture
async def world(client: httpx.AsyncClient, owner: TenantOwner) -> World:
    return await make_world(client, owner.headers)


RoleLogin = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
def as_role(kraliki_client, kraliki_make_user, owner: TenantOwner) -> RoleLogin:
    """``headers = await as_role("agent")``: a new user of the tenant with that role."""

    async def make(role: str) -> dict[str, str]:
        email = f"{role}-{uuid.uuid4().hex[:8]}@{owner.slug}.example.com"
        await kraliki_make_user(owner.tenant_id, email, roles=[role])
        return await login(kraliki_client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)

    return make
