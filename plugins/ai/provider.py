"""The contract between the AI gateway and a model provider (OpenAI, Anthropic, the offline
one, yours).

A provider plugin requires ``ai`` and implements ``kraliki_ai_providers`` returning
:class:`ModelProviderSpec` values named after the plugin. The gateway builds the provider
once per platform, fetches the tenant's key from the vault, and calls it through the
kernel's resilience helper (timeouts, retries, the per-tenant breaker named after the
provider): a provider only speaks to its service and classifies its SDK's errors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from kernel import Classification, Platform, SecretValue


@dataclass(frozen=True, slots=True)
class ChatMessage:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One chat completion, already redacted and with the tenant's instructions in
    ``system``."""

    task: str
    """What the answer is for (``sentiment``, ``summary``, ``assist.reply``, ``generate``)."""
    model: str
    system: str | None
    messages: Sequence[ChatMessage]
    output_schema: Mapping[str, Any] | None = None
    """A JSON schema (a pydantic model's) the answer must be a JSON document of."""
    output_name: str | None = None
    """The schema's name (the model class's), for providers that ask for one."""
    max_output_tokens: int = 1024
    temperature: float | None = None


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


@dataclass(frozen=True, slots=True)
class ChatResult:
    text: str
    """The answer (a JSON document when the request had an ``output_schema``)."""
    usage: Usage
    model: str
    """The model that answered, as the provider names it."""
    stop_reason: str | None = None


@dataclass(frozen=True, slots=True)
class ChatDelta:
    """A piece of a streamed answer."""

    text: str


@dataclass(frozen=True, slots=True)
class ChatEnd:
    """The last item of a stream: what the whole answer cost."""

    usage: Usage
    model: str
    stop_reason: str | None = None


ChatStreamItem = ChatDelta | ChatEnd


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    task: str
    model: str
    inputs: Sequence[str]


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    vectors: list[list[float]]
    usage: Usage
    model: str


@dataclass(frozen=True, slots=True)
class ModelPrice:
    """List price in US dollars per million tokens (the estimate the usage meter uses)."""

    input_per_million: Decimal
    output_per_million: Decimal

    def cost(self, usage: Usage) -> Decimal:
        million = Decimal(1_000_000)
        return (
            self.input_per_million * usage.input_tokens
            + self.output_per_million * usage.output_tokens
        ) / million


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the provider needs from the tenant: its key (None for keyless providers)."""

    api_key: SecretValue | None


class EmbeddingsUnsupportedError(Exception):
    """The provider has no embeddings (Anthropic, the offline one)."""


class ModelProvider(Protocol):
    """One per platform, shared by every tenant: no tenant state on the instance."""

    name: str

    async def complete(self, credentials: Credentials, request: ChatRequest) -> ChatResult:
        """One answer; raise the SDK's error for :meth:`classify` to judge."""
        ...

    def stream(
        self, credentials: Credentials, request: ChatRequest
    ) -> AsyncIterator[ChatStreamItem]:
        """The answer as it is written: :class:`ChatDelta` items, then one :class:`ChatEnd`."""
        ...

    async def embed(self, credentials: Credentials, request: EmbeddingRequest) -> EmbeddingResult:
        """Vectors for ``request.inputs``; :class:`EmbeddingsUnsupportedError` when the
        provider has none."""
        ...

    def classify(self, exc: Exception) -> Classification | None:
        """``transient`` (timeouts, 429, 5xx: retried, counted by the breaker),
        ``rejected`` (a refused request: neither), or None to let the kernel decide."""
        ...


@dataclass(frozen=True, slots=True)
class ModelProviderSpec:
    """A model provider a plugin contributes through ``kraliki_ai_providers``."""

    name: str
    """Lower case, the plugin's own name; names the breaker and the usage rows."""
    factory: Callable[[Platform], ModelProvider]
    description: str
    key_secret: str | None
    """The vault secret holding the tenant's key (``openai.api_key``); None: keyless."""
    chat_model: str
    """The model used when the tenant names none."""
    embedding_model: str | None = None
    """The embedding model; None when the provider has no embeddings."""
    embedding_dimensions: int | None = None
    prices: Mapping[str, ModelPrice] = field(default_factory=dict)
    """Per model; a model missing here is metered at zero cost (and said so in usage)."""
