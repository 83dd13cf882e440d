"""The anthropic plugin as the platform sees it: its provider spec, its settings, and its key
in the vault, validated against the stand-in through the vault's HTTP API."""

from __future__ import annotations

import pytest

import plugins.anthropic.plugin
from kernel import Platform
from plugins.ai import Usage
from plugins.anthropic.config import ANTHROPIC_API, AnthropicSettings
from plugins.anthropic.provider import AnthropicProvider
from plugins.anthropic.testing import AnthropicStandIn


def test_the_plugin_requires_ai():
    info = plugins.anthropic.plugin.kraliki_plugin_info()
    assert (info.name, info.requires) == ("anthropic", ("ai",))


async def test_the_provider_is_contributed(platform: Platform):
    [(plugin, [spec])] = platform.hooks.collect_now("kraliki_ai_providers")
    assert (plugin, spec.name, spec.factory) == ("anthropic", "anthropic", AnthropicProvider)
    assert spec.key_secret == "anthropic.api_key"
    assert spec.chat_model == "claude-haiku-4-5"
    assert (spec.embedding_model, spec.embedding_dimensions) == (None, None)
    assert spec.prices[spec.chat_model].cost(Usage(1_000_000, 1_000_000)) > 0
    assert isinstance(spec.factory(platform), AnthropicProvider)


async def test_the_key_is_declared_with_its_format(platform: Platform):
    spec = platform.vault.spec("anthropic.api_key")
    assert spec.kind == "api_key"
    assert spec.validator is not None
    assert spec.format_problem("sk-ant-api03-" + "a1B2" * 10) is None
    assert spec.format_problem("sk-proj-" + "a1B2" * 10) is not None  # an OpenAI key


def test_settings_defaults_and_environment(monkeypatch):
    monkeypatch.delenv("KRALIKI_ANTHROPIC_BASE_URL", raising=False)
    defaults = AnthropicSettings(_env_file=None)
    assert (defaults.base_url, defaults.timeout_seconds) == (ANTHROPIC_API, 60.0)
    monkeypatch.setenv("KRALIKI_ANTHROPIC_BASE_URL", "http://127.0.0.1:9999")
    assert AnthropicSettings(_env_file=None).base_url == "http://127.0.0.1:9999"
    monkeypatch.setenv("KRALIKI_ANTHROPIC_TIMEOUT_SECONDS", "0")
    with pytest.raises(ValueError):
        AnthropicSettings(_env_file=None)


# --- the key through the vault's HTTP API (put_and_validate: model_provider_suite.py) -------


async def test_a_good_key_is_valid(put_and_validate, stand_in: AnthropicStandIn):
    stored, result = await put_and_validate(stand_in.api_key)
    assert stored["name"] == "anthropic.api_key"
    assert result["status"] == "valid"
    assert result["detail"] == "Anthropic accepted the key; it may use 3 models"
    [request] = stand_in.requests
    assert (request.method, request.path, request.api_key) == (
        "GET",
        "/v1/models",
        stand_in.api_key,
    )


async def test_a_wrong_key_is_invalid(put_and_validate, stand_in: AnthropicStandIn):
    _, result = await put_and_validate("sk-ant-wrong-" + "0" * 32)
    assert (result["status"], result["detail"]) == (
        "invalid",
        "Anthropic refused the key (HTTP 401)",
    )
    assert len(stand_in.requests) == 1  # a refusal is not retried


async def test_anthropic_overloaded_is_unreachable(put_and_validate, stand_in: AnthropicStandIn):
    stand_in.fail_next(10, 529)
    _, result = await put_and_validate(stand_in.api_key)
    assert result["status"] == "unreachable"
