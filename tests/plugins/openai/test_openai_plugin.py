"""The openai plugin as the platform sees it: its provider spec, its settings, and its key in
the vault, validated against the stand-in through the vault's HTTP API."""

from __future__ import annotations

import pytest

import plugins.openai.plugin
from kernel import Platform
from plugins.ai import ModelPrice, Usage
from plugins.openai.config import OPENAI_API, OpenAISettings
from plugins.openai.provider import OpenAIProvider
from plugins.openai.schema import strict_schema
from plugins.openai.testing import OpenAIStandIn


def test_the_plugin_requires_ai():
    info = plugins.openai.plugin.kraliki_plugin_info()
    assert (info.name, info.requires) == ("openai", ("ai",))


async def test_the_provider_is_contributed(platform: Platform):
    [(plugin, [spec])] = platform.hooks.collect_now("kraliki_ai_providers")
    assert (plugin, spec.name, spec.factory) == ("openai", "openai", OpenAIProvider)
    assert spec.key_secret == "openai.api_key"
    assert (spec.chat_model, spec.embedding_model, spec.embedding_dimensions) == (
        "gpt-4.1-mini",
        "text-embedding-3-small",
        1536,
    )
    assert spec.chat_model in spec.prices
    price: ModelPrice = spec.prices["gpt-4.1-mini"]
    assert price.cost(Usage(1_000_000, 1_000_000)) > 0
    assert isinstance(spec.factory(platform), OpenAIProvider)


async def test_the_key_is_declared_with_its_format(platform: Platform):
    spec = platform.vault.spec("openai.api_key")
    assert spec.kind == "api_key"
    assert spec.validator is not None
    assert spec.format_problem("sk-proj-" + "a1B2" * 10) is None
    assert spec.format_problem("not a key") is not None


def test_settings_defaults_and_environment(monkeypatch):
    monkeypatch.delenv("KRALIKI_OPENAI_BASE_URL", raising=False)
    defaults = OpenAISettings(_env_file=None)
    assert (defaults.base_url, defaults.timeout_seconds) == (OPENAI_API, 60.0)
    monkeypatch.setenv("KRALIKI_OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")
    assert OpenAISettings(_env_file=None).base_url == "http://127.0.0.1:9999/v1"
    monkeypatch.setenv("KRALIKI_OPENAI_BASE_URL", "ftp://nope")
    with pytest.raises(ValueError):
        OpenAISettings(_env_file=None)


def test_strict_schemas():
    closed = {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}
    assert strict_schema(closed) == closed | {"additionalProperties": False}
    assert "additionalProperties" not in closed  # a copy
    optional = {"type": "object", "properties": {"a": {"type": "string"}}, "required": []}
    assert strict_schema(optional) is None
    nested = {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
        "required": ["items"],
        "$defs": {
            "Item": {"type": "object", "properties": {"n": {"default": 1}}, "required": ["n"]}
        },
    }
    assert strict_schema(nested) is None  # a default deep inside
    assert strict_schema({"type": "array", "items": {}}) is None  # the root must be an object
    open_map = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert strict_schema(open_map) is None


# --- the key through the vault's HTTP API (put_and_validate: model_provider_suite.py) -------


async def test_a_good_key_is_valid(put_and_validate, stand_in: OpenAIStandIn):
    stored, result = await put_and_validate(stand_in.api_key)
    assert stored["name"] == "openai.api_key"
    assert result["status"] == "valid"
    assert result["detail"] == "OpenAI accepted the key; it may use 4 models"
    [request] = stand_in.requests
    assert (request.method, request.path, request.api_key) == (
        "GET",
        "/v1/models",
        stand_in.api_key,
    )


async def test_a_wrong_key_is_invalid(put_and_validate, stand_in: OpenAIStandIn):
    _, result = await put_and_validate("sk-wrong-" + "0" * 32)
    assert (result["status"], result["detail"]) == ("invalid", "OpenAI refused the key (HTTP 401)")
    assert len(stand_in.requests) == 1  # a refusal is not retried


async def test_openai_down_is_unreachable(put_and_validate, stand_in: OpenAIStandIn):
    stand_in.fail_next(10, 503)
    _, result = await put_and_validate(stand_in.api_key)
    assert result["status"] == "unreachable"
