"""The public API of the ``ai`` plugin: the model gateway other plugins ask, and the contract
model provider plugins implement. Everything else in ``plugins.ai`` is private. See
``docs/plugins/ai.md``."""

from __future__ import annotations

from plugins.ai.gateway import (
    Answer,
    AnswerStream,
    Embeddings,
    Fallback,
    NoEmbeddingsError,
    Prompt,
    complete,
    embed,
    stream,
)
from plugins.ai.offline.sentiment import LexiconScore, lexicon_sentiment
from plugins.ai.provider import (
    ChatDelta,
    ChatEnd,
    ChatMessage,
    ChatRequest,
    ChatResult,
    ChatStreamItem,
    Credentials,
    EmbeddingRequest,
    EmbeddingResult,
    EmbeddingsUnsupportedError,
    ModelPrice,
    ModelProvider,
    ModelProviderSpec,
    Usage,
)
from plugins.ai.retry import retry_after_seconds
from plugins.ai.tasks import AiTask, OfflineAnswer

__all__ = [
    "AiTask",
    "Answer",
    "AnswerStream",
    "ChatDelta",
    "ChatEnd",
    "ChatMessage",
    "ChatRequest",
    "ChatResult",
    "ChatStreamItem",
    "Credentials",
    "EmbeddingRequest",
    "EmbeddingResult",
    "Embeddings",
    "EmbeddingsUnsupportedError",
    "Fallback",
    "LexiconScore",
    "ModelPrice",
    "ModelProvider",
    "ModelProviderSpec",
    "NoEmbeddingsError",
    "OfflineAnswer",
    "Prompt",
    "Usage",
    "complete",
    "embed",
    "lexicon_sentiment",
    "retry_after_seconds",
    "stream",
]
