"""What the tests of the model provider plugins (``tests/plugins/openai``,
``tests/plugins/anthropic``) share: their fixtures, and the tests every provider passes the
same way.

A test directory's ``conftest.py`` says which plugin it tests with a ``provider_plugin``
fixture and imports the fixtures; a test module imports the shared tests it runs (pytest
collects them there, with that directory's fixtures)::

    @pytest.fixture
    def provider_plugin() -> ProviderPlugin:
        return ProviderPlugin(plugins.openai.plugin, OpenAIStandIn)

    from model_provider_suite import test_no_stored_key_is_a_rejection  # noqa: F401 (shared)
"""

from __future__ import annotations

import time
import types
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import stamina
from fastapi import FastAPI

from kernel import Platform, RejectedError, SecretValue
from kernel.testing import app_client, create_tenant, free_port, installed_plugin
from plugins.ai import ChatMessage, ChatRequest, Credentials, ModelProvider, ModelProviderSpec
from plugins.ai.testing import StandInServer

WRONG_KEY = "sk-wrong-key-0123456789abcdef"


def chat_request(model: str, prompt: str = "How are you?", **fields: object) -> ChatRequest:
    """A ``generate`` request of ``model``: a brief system prompt and one user message
    (``fields`` replace any of them)."""
    values: dict[str, object] = {
        "task": "generate",
        "model": model,
        "system": "Be brief.",
        "messages": [ChatMessage("user", prompt)],
    }
    return ChatRequest(**(values | fields))  # type: ignore[arg-type]


@dataclass(frozen=True)
class ProviderPlugin:
    """The model provider plugin a test directory tests, and the stand-in of its service."""

    plugin: types.ModuleType
    """Its hook implementations (``plugins.openai.plugin``)."""
    stand_in: type[StandInServer[Any]]

    @property
    def spec(self) -> ModelProviderSpec:
        [spec] = self.plugin.kraliki_ai_providers()
        return spec  # type: ignore[no-any-return]

    def request(self, prompt: str = "How are you?", **fields: object) -> ChatRequest:
        """A :func:`chat_request` of its default chat model."""
        return chat_request(self.spec.chat_model, prompt, **fields)


# --- fixtures (a conftest.py imports them) ---------------------------------------------------


@pytest.fixture(autouse=True)
def no_retry_waits() -> Iterator[None]:
    """Retries without their backoff, three attempts a call."""
    with stamina.set_testing(True, attempts=3):
        yield


@pytest.fixture
async def stand_in(provider_plugin: ProviderPlugin) -> AsyncIterator[StandInServer[Any]]:
    async with provider_plugin.stand_in() as server:
        yield server


@pytest.fixture
async def app(
    kraliki_make_app: Any,
    provider_plugin: ProviderPlugin,
    stand_in: StandInServer[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> FastAPI:
    """A platform with ai and the plugin loaded, whose base URL for it is the stand-in's."""
    for name, value in stand_in.environment().items():
        monkeypatch.setenv(name, value)
    made: FastAPI = await kraliki_make_app(
        plugins=[installed_plugin("ai"), provider_plugin.plugin], background_workers=False
    )
    return made


@pytest.fixture
def platform(app: FastAPI) -> Platform:
    made: Platform = app.state.platform
    return made


@pytest.fixture
def provider(platform: Platform, provider_plugin: ProviderPlugin) -> ModelProvider:
    return provider_plugin.spec.factory(platform)


@pytest.fixture
def credentials(stand_in: StandInServer[Any]) -> Credentials:
    return Credentials(api_key=SecretValue(stand_in.api_key))


PutAndValidate = Callable[[str], Awaitable[tuple[dict[str, Any], dict[str, Any]]]]


@pytest.fixture
async def put_and_validate(
    app: FastAPI, kraliki_authenticate: Any, provider_plugin: ProviderPlugin
) -> PutAndValidate:
    """``await put_and_validate(key)``: a new tenant's admin PUTs the key and asks the vault
    to validate it; both answers."""
    platform: Platform = app.state.platform
    secret = f"/api/v1/vault/secrets/{provider_plugin.spec.key_secret}"

    async def run(key: str) -> tuple[dict[str, Any], dict[str, Any]]:
        tenant = await create_tenant(platform, "acme")
        kraliki_authenticate(
            app, "vault.secrets:write", "vault.secrets:validate", kind="user", tenant_id=tenant
        )
        async with app_client(app) as client:
            put = await client.put(secret, json={"value": key})
            assert put.status_code == 201, put.text
            checked = await client.post(f"{secret}/validate")
        assert checked.status_code == 200, checked.text
        assert key not in put.text + checked.text
        return put.json(), checked.json()

    return run


async def complete_unreachable(
    platform: Platform,
    provider_plugin: ProviderPlugin,
    credentials: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[ModelProvider, Exception]:
    """A provider whose base URL is a free loopback port (nothing listens), and what it
    raised asked to complete."""
    nowhere = provider_plugin.stand_in(url=f"http://127.0.0.1:{free_port()}")
    for name, value in nowhere.environment().items():
        monkeypatch.setenv(name, value)
    provider_plugin.plugin.kraliki_configure(platform)
    provider = provider_plugin.spec.factory(platform)
    try:
        await provider.complete(credentials, provider_plugin.request())
    except Exception as raised:
        return provider, raised
    raise AssertionError("a provider with nothing to talk to answered")


# --- tests every provider passes (a test module imports them) -----------------------------


async def test_a_wrong_key_through_the_resilience_helper_is_tried_once(
    platform: Platform,
    provider: ModelProvider,
    provider_plugin: ProviderPlugin,
    stand_in: StandInServer[Any],
) -> None:
    wrong = Credentials(api_key=SecretValue(WRONG_KEY))
    with pytest.raises(RejectedError) as caught:
        await platform.resilience.call(
            provider.name,
            lambda: provider.complete(wrong, provider_plugin.request()),
            tenant_id=None,
            classify=provider.classify,
        )
    assert caught.value.status == 401
    assert len(stand_in.requests) == 1


async def test_no_stored_key_is_a_rejection(
    provider: ModelProvider, provider_plugin: ProviderPlugin, stand_in: StandInServer[Any]
) -> None:
    with pytest.raises(RejectedError):
        await provider.complete(Credentials(api_key=None), provider_plugin.request())
    assert stand_in.requests == []


def test_unknown_errors_are_left_to_the_kernel(provider: ModelProvider) -> None:
    assert provider.classify(ValueError("bug")) is None


async def test_the_stand_in_answers_after_its_latency(
    provider: ModelProvider,
    provider_plugin: ProviderPlugin,
    credentials: Credentials,
    stand_in: StandInServer[Any],
) -> None:
    stand_in.latency = 0.3
    stand_in.responder = lambda body: body["messages"][-1]["content"].upper()
    started = time.perf_counter()
    result = await provider.complete(credentials, provider_plugin.request("shout this"))
    assert time.perf_counter() - started >= 0.3
    assert result.text == "SHOUT THIS"
