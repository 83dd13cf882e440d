"""Anthropic tests run the real SDK against the stand-in: a platform with ai and anthropic loaded
whose Anthropic base URL is the stand-in's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import stamina
from fastapi import FastAPI

import plugins.anthropic.plugin
from kernel import Platform
from kernel.testing import installed_plugin
from plugins.ai import Credentials
from plugins.anthropic.provider import AnthropicProvider
from plugins.anthropic.testing import AnthropicStandIn


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """Retries without their backoff, three attempts a call."""
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture
async def stand_in() -> AsyncIterator[AnthropicStandIn]:
    async with AnthropicStandIn() as server:
        yield server


@pytest.fixture
async def app(
    kraliki_make_app: Any, stand_in: AnthropicStandIn, monkeypatch: pytest.MonkeyPatch
) -> FastAPI:
    for name, value in stand_in.environment().items():
        monkeypatch.setenv(name, value)
    made: FastAPI = await kraliki_make_app(
        plugins=[installed_plugin("ai"), plugins.anthropic.plugin], background_workers=False
    )
    return made


@pytest.fixture
def platform(app: FastAPI) -> Platform:
    made: Platform = app.state.platform
    return made


@pytest.fixture
def provider(platform: Platform) -> AnthropicProvider:
    return AnthropicProvider(platform)


@pytest.fixture
def credentials(stand_in: AnthropicStandIn) -> Credentials:
    from kernel import SecretValue

    return Credentials(api_key=SecretValue(stand_in.api_key))
