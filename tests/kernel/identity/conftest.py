"""Fixtures of the identity tests: the tenant ``acme`` and its people."""

from __future__ import annotations

import uuid

import pytest

from kernel import Platform

from .helpers import headers_for, make_tenant, make_user


@pytest.fixture
async def acme(kraliki_platform: Platform) -> uuid.UUID:
    return await make_tenant(kraliki_platform, "acme")


@pytest.fixture
async def globex(kraliki_platform: Platform) -> uuid.UUID:
    return await make_tenant(kraliki_platform, "globex")


@pytest.fixture
async def admin_id(kraliki_platform: Platform, acme: uuid.UUID) -> uuid.UUID:
    return await make_user(kraliki_platform, acme, "admin@example.com", roles=["admin"])


@pytest.fixture
async def admin(kraliki_client, admin_id: uuid.UUID) -> dict[str, str]:
    """Authorization headers of acme's admin."""
    return await headers_for(kraliki_client, "admin@example.com")


@pytest.fixture
async def owner_id(kraliki_platform: Platform, acme: uuid.UUID) -> uuid.UUID:
    return await make_user(kraliki_platform, acme, "owner@example.com", roles=["owner"])


@pytest.fixture
async def owner(kraliki_client, owner_id: uuid.UUID) -> dict[str, str]:
    """Authorization headers of acme's (only) owner."""
    return await headers_for(kraliki_client, "owner@example.com")


@pytest.fixture
async def agent_id(kraliki_platform: Platform, acme: uuid.UUID) -> uuid.UUID:
    return await make_user(kraliki_platform, acme, "agent@example.com", roles=["agent"])


@pytest.fixture
async def agent(kraliki_client, agent_id: uuid.UUID) -> dict[str, str]:
    """Authorization headers of acme's agent."""
    return await headers_for(kraliki_client, "agent@example.com")
