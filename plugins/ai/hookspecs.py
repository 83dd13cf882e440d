"""Hooks the ai plugin adds: model providers and the tasks other plugins ask of them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import hookspec

if TYPE_CHECKING:
    from plugins.ai.provider import ModelProviderSpec
    from plugins.ai.tasks import AiTask


@hookspec
def kraliki_ai_providers() -> Sequence[ModelProviderSpec]:  # type: ignore[empty-body]
    """Contribute model providers (OpenAI, Anthropic, yours).

    Called once per platform while ``ai`` configures itself. A provider's name must be the
    plugin's own name; two plugins offering one name stop the platform. See
    :mod:`plugins.ai.provider` for the contract.
    """


@hookspec
def kraliki_ai_tasks() -> Sequence[AiTask]:  # type: ignore[empty-body]
    """Declare the tasks your plugin asks of the gateway (``sentiment``, ``assist.reply``),
    each with its offline answer. Called once per platform; a task asked of the gateway
    must have been declared. Two plugins declaring one name stop the platform.
    """
