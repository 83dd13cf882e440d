"""The offline provider: answers each task with the task's own local function."""

from __future__ import annotations

from collections.abc import AsyncIterator

from kernel import Classification
from plugins.ai.provider import (
    ChatDelta,
    ChatEnd,
    ChatRequest,
    ChatResult,
    ChatStreamItem,
    Credentials,
    EmbeddingRequest,
    EmbeddingResult,
    EmbeddingsUnsupportedError,
    Usage,
)
from plugins.ai.tasks import AiTask

OFFLINE = "offline"
OFFLINE_MODEL = "offline"


def _tokens(text: str) -> int:
    """A rough count (words): the offline provider costs nothing, this only shows volume."""
    return len(text.split())


class OfflineProvider:
    name = OFFLINE

    def __init__(self, tasks: dict[str, AiTask]) -> None:
        self._tasks = tasks

    async def complete(self, credentials: Credentials, request: ChatRequest) -> ChatResult:
        text = await self._tasks[request.task].offline(request)
        prompt = " ".join(message.content for message in request.messages)
        usage = Usage(input_tokens=_tokens(prompt), output_tokens=_tokens(text))
        return ChatResult(text=text, usage=usage, model=OFFLINE_MODEL, stop_reason="end")

    async def stream(
        self, credentials: Credentials, request: ChatRequest
    ) -> AsyncIterator[ChatStreamItem]:
        result = await self.complete(credentials, request)
        yield ChatDelta(result.text)
        yield ChatEnd(usage=result.usage, model=result.model, stop_reason=result.stop_reason)

    async def embed(self, credentials: Credentials, request: EmbeddingRequest) -> EmbeddingResult:
        raise EmbeddingsUnsupportedError("the offline provider has no embeddings")

    def classify(self, exc: Exception) -> Classification | None:
        return None
