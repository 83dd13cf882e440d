"""OpenAI tests run the real SDK against the stand-in: a platform with ai and openai loaded
whose OpenAI base URL is the stand-in's (the fixtures are ``tests/model_provider_suite.py``'s,
shared with the anthropic plugin's tests)."""

from __future__ import annotations

import pytest
from model_provider_suite import (  # noqa: F401 (fixtures)
    ProviderPlugin,
    app,
    credentials,
    no_retry_waits,
    platform,
    provider,
    put_and_validate,
    stand_in,
)

import plugins.openai.plugin
from plugins.openai.testing import OpenAIStandIn


@pytest.fixture
def provider_plugin() -> ProviderPlugin:
    return ProviderPlugin(plugins.openai.plugin, OpenAIStandIn)
