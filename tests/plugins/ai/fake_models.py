"""A test-only model provider plugin: records what it received (so tests can assert what
left the platform) and answers, fails or refuses as a test tells it to."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from kernel import Classification, Platform, SecretSpec
from plugins.ai import (
    ChatDelta,
    ChatEnd,
    ChatRequest,
    ChatResult,
    ChatStreamItem,
    Credentials,
    EmbeddingRequest,
    EmbeddingResult,
    EmbeddingsUnsupportedError,
    ModelPrice,
    ModelProviderSpec,
    Usage,
)

PRICE = ModelPrice(input_per_million=Decimal(10), output_per_million=Decimal(30))
"""1,000 tokens in and 500 out cost $0.025."""
USAGE = Usage(input_tokens=1000, output_tokens=500)


class UpstreamDown(Exception):
    """The stand-in of an SDK's 5xx / connection error (classified transient)."""


class UpstreamRefused(Exception):
    """The stand-in of an SDK's 400 (classified rejected)."""


@dataclass
class FakeModel:
    name: str
    mode: Literal["ok", "down", "refuse"] = "ok"
    answer: str = "a fake answer"
    embeddings: bool = True
    received: list[ChatRequest] = field(default_factory=list)
    embedded: list[EmbeddingRequest] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)

    def _act(self, credentials: Credentials) -> None:
        assert credentials.api_key is not None
        self.keys.append(credentials.api_key.reveal())
        if self.mode == "down":
            raise UpstreamDown("503 from upstream")
        if self.mode == "refuse":
            raise UpstreamRefused("400 from upstream")

    def _text(self, request: ChatRequest) -> str:
        if request.output_schema is not None and self.answer == "a fake answer":
            return json.dumps({"label": "positive", "score": 0.9})
        return self.answer

    async def complete(self, credentials: Credentials, request: ChatRequest) -> ChatResult:
        self.received.append(request)
        self._act(credentials)
        return ChatResult(text=self._text(request), usage=USAGE, model=request.model)

    async def stream(
        self, credentials: Credentials, request: ChatRequest
    ) -> AsyncIterator[ChatStreamItem]:
        self.received.append(request)
        self._act(credentials)
        for word in self._text(request).split(" "):
            yield ChatDelta(word + " ")
        yield ChatEnd(usage=USAGE, model=request.model)

    async def embed(self, credentials: Credentials, request: EmbeddingRequest) -> EmbeddingResult:
        self.embedded.append(request)
        if not self.embeddings:
            raise EmbeddingsUnsupportedError("none")
        self._act(credentials)
        vectors = [[float(len(text)), 1.0, 0.0] for text in request.inputs]
        return EmbeddingResult(
            vectors=vectors,
            usage=Usage(sum(len(t) for t in request.inputs), 0),
            model=request.model,
        )

    def classify(self, exc: Exception) -> Classification | None:
        if isinstance(exc, UpstreamDown):
            return "transient"
        if isinstance(exc, UpstreamRefused):
            return "rejected"
        return None


def model_plugin(make_plugin: Any, model: FakeModel, *, embeddings: bool = True) -> Any:
    """A plugin named after ``model`` contributing it, with its key in the vault
    (``<name>.api_key``)."""
    secret = f"{model.name}.api_key"

    def providers() -> Sequence[ModelProviderSpec]:
        def factory(platform: Platform) -> FakeModel:
            return model

        return [
            ModelProviderSpec(
                name=model.name,
                factory=factory,
                description=f"The {model.name} test model.",
                key_secret=secret,
                chat_model=f"{model.name}-large",
                embedding_model=f"{model.name}-embed" if embeddings else None,
                embedding_dimensions=3 if embeddings else None,
                prices={f"{model.name}-large": PRICE},
            )
        ]

    def secrets() -> Sequence[SecretSpec]:
        return [SecretSpec(secret, f"The {model.name} test model's key.")]

    return make_plugin(model.name, requires=("ai",), ai_providers=providers, vault_secrets=secrets)
