"""anthropic: Anthropic's Claude as a model provider of the ``ai`` gateway (chat, structured
output through a tool, streaming; no embeddings) with each tenant's own key. Hook
implementations only; see ``docs/plugins/ai.md`` ("OpenAI and Anthropic")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import Platform, PluginInfo, SecretSpec, __version__, hookimpl

if TYPE_CHECKING:
    from plugins.ai import ModelProviderSpec


@hookimpl
def kraliki_plugin_info() -> PluginInfo:
    return PluginInfo(
        name="anthropic",
        version=__version__,
        requires=("ai",),
        description="Anthropic's Claude as a model provider: chat with structured output and "
        "streaming, with the organization's own key.",
    )


@hookimpl
def kraliki_configure(platform: Platform) -> None:
    from plugins.anthropic.config import configure

    configure(platform)


@hookimpl
def kraliki_vault_secrets() -> Sequence[SecretSpec]:
    from plugins.anthropic.secrets import SECRETS

    return SECRETS


@hookimpl
def kraliki_ai_providers() -> Sequence[ModelProviderSpec]:
    from plugins.ai import ModelProviderSpec
    from plugins.anthropic.models import CHAT_MODEL, PRICES
    from plugins.anthropic.provider import AnthropicProvider
    from plugins.anthropic.secrets import API_KEY

    return [
        ModelProviderSpec(
            name="anthropic",
            factory=AnthropicProvider,
            description="Anthropic (Messages API); no embeddings.",
            key_secret=API_KEY,
            chat_model=CHAT_MODEL,
            prices=PRICES,
        )
    ]
