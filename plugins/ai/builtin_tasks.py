"""The tasks the ai plugin itself asks: ``generate`` (a tenant's own prompt)."""

from __future__ import annotations

from plugins.ai.provider import ChatRequest
from plugins.ai.tasks import AiTask

GENERATE = "generate"


async def _generate_offline(request: ChatRequest) -> str:
    """The offline model writes no free text: it says so, honestly and deterministically."""
    return (
        "The offline model does not write free text. Choose a provider (OpenAI, Anthropic) "
        "for the generate task in the AI settings."
    )


TASKS = [
    AiTask(GENERATE, "A tenant's own prompt (POST /api/v1/ai/generate).", _generate_offline),
]
