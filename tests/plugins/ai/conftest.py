"""AI gateway tests: the ai plugin alone plus two test-only model providers (``alpha`` and
``beta``, see ``fake_models.py``), a tenant whose owner is logged in, and helpers to store
keys and settings through the API."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from ai_helpers import verdict_offline
from fake_models import FakeModel, model_plugin

from kernel import Platform
from kernel.testing import DEFAULT_TEST_PASSWORD, TenantOwner, installed_plugin, login
from plugins.ai import AiTask


@pytest.fixture
def alpha() -> FakeModel:
    return FakeModel("alpha")


@pytest.fixture
def beta() -> FakeModel:
    return FakeModel("beta")


@pytest.fixture
def kraliki_installed_plugins() -> list[object]:
    return [installed_plugin("ai")]


@pytest.fixture
def kraliki_extra_plugins(make_plugin, alpha: FakeModel, beta: FakeModel) -> list[object]:
    """The two models, and a plugin asking a structured task (``verdict``)."""
    tasks = make_plugin(
        "asker",
        requires=("ai",),
        ai_tasks=lambda: [AiTask("verdict", "A structured test task.", verdict_offline)],
    )
    return [
        model_plugin(make_plugin, alpha),
        model_plugin(make_plugin, beta, embeddings=False),
        tasks,
    ]


@pytest.fixture
async def kraliki_app(kraliki_make_app):
    """One attempt per call and a breaker opening after two failures: tests stay quick."""
    return await kraliki_make_app(
        outbound_attempts=1, breaker_failure_threshold=2, breaker_reset_seconds=600
    )


@pytest.fixture
def platform(kraliki_platform: Platform) -> Platform:
    return kraliki_platform


@pytest.fixture
def client(kraliki_client: httpx.AsyncClient) -> httpx.AsyncClient:
    return kraliki_client


@pytest.fixture
async def owner(kraliki_make_owner) -> TenantOwner:
    made: TenantOwner = await kraliki_make_owner("acme")
    return made


RoleLogin = Callable[[str], Awaitable[dict[str, str]]]


@pytest.fixture
def as_role(kraliki_client, kraliki_make_user, owner: TenantOwner) -> RoleLogin:
    async def make(role: str) -> dict[str, str]:
        email = f"{role}-{uuid.uuid4().hex[:8]}@{owner.slug}.example.com"
        await kraliki_make_user(owner.tenant_id, email, roles=[role])
        return await login(kraliki_client, email, DEFAULT_TEST_PASSWORD, tenant=owner.slug)

    return make
