"""openai: OpenAI as a model provider of the ``ai`` gateway (chat, structured output,
streaming, embeddings) with each tenant's own key. Hook implementations only; see
``docs/plugins/ai.md`` ("OpenAI and Anthropic")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import Platform, PluginInfo, SecretSpec, __version__, hookimpl

if TYPE_CHECKING:
    from plugins.ai import ModelProviderSpec


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="openai",
        version=__version__,
        requires=("ai",),
        description="OpenAI as a model provider: chat with structured output, streaming and "
        "embeddings, with the organization's own key.",
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.openai.config import configure

    configure(platform)


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.openai.secrets import SECRETS

    return SECRETS


@hookimpl
def kraliki_ai_providers() -> Sequence[ModelProviderSpec]:
    from plugins.ai import ModelProviderSpec
    from plugins.openai.models import CHAT_MODEL, EMBEDDING_DIMENSIONS, EMBEDDING_MODEL, PRICES
    from plugins.openai.provider import OpenAIProvider
    from plugins.openai.secrets import API_KEY

    return [
        ModelProviderSpec(
            name="openai",
            factory=OpenAIProvider,
            description="OpenAI (Chat Completions, embeddings).",
            key_secret=API_KEY,
            chat_model=CHAT_MODEL,
            embedding_model=EMBEDDING_MODEL,
            embedding_dimensions=EMBEDDING_DIMENSIONS,
            prices=PRICES,
        )
    ]
