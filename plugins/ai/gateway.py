"""The model gateway: the one way plugins ask a model for something (``plugins.ai``'s
public API). Callers name a task; the gateway picks the tenant's provider and model for
it, redacts the prompt, adds the tenant's instructions, meters usage against the budget,
calls through the kernel's resilience helper and falls back along the tenant's order,
ending with the offline provider, which always answers.

Call inside the tenant's scope (:func:`kernel.tenant_scope`; a request is in one).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel

from kernel import Platform
from plugins.ai.provider import ChatMessage, Usage

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Fallback:
    """A provider the gateway passed over, and why (``breaker_open``, ``budget_exhausted``,
    ``no_key``, ``failed``, ``embeddings_unsupported``)."""

    provider: str
    reason: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Answer(Generic[T]):
    text: str
    parsed: T | None
    """The answer as ``output`` (None when no ``output`` was asked for)."""
    provider: str
    model: str
    usage: Usage
    fallbacks: tuple[Fallback, ...] = ()
    """The providers tried before this one, and why they did not answer."""

    @property
    def fell_back(self) -> bool:
        return bool(self.fallbacks)


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    provider: str
    model: str
    usage: Usage
    fallbacks: tuple[Fallback, ...] = ()


@dataclass
class AnswerStream:
    """A streamed answer: iterate for the text as it comes; ``answer`` once it is done."""

    chunks: AsyncIterator[str]
    answer: Answer[BaseModel] | None = field(default=None)

    def __aiter__(self) -> AsyncIterator[str]:
        return self.chunks


class NoEmbeddingsError(Exception):
    """No provider the tenant can use for the task has embeddings (``fallbacks`` says why
    each was passed over; the offline provider has none)."""

    def __init__(self, fallbacks: tuple[Fallback, ...]) -> None:
        reasons = ", ".join(f"{f.provider}: {f.reason}" for f in fallbacks)
        super().__init__(f"no model provider with embeddings answered ({reasons})")
        self.fallbacks = fallbacks


Prompt = str | Sequence[ChatMessage]
"""A user message, or a conversation."""


async def complete(
    platform: Platform,
    *,
    plugin: str,
    task: str,
    prompt: Prompt,
    output: type[T] | None = None,
    system: str | None = None,
    max_output_tokens: int = 1024,
) -> Answer[T]:
    """Ask the tenant's model for ``task``; with ``output``, a validated instance of it."""
    from plugins.ai._engine import run_complete

    return await run_complete(
        platform,
        plugin=plugin,
        task=task,
        prompt=prompt,
        output=output,
        system=system,
        max_output_tokens=max_output_tokens,
    )


def stream(
    platform: Platform,
    *,
    plugin: str,
    task: str,
    prompt: Prompt,
    system: str | None = None,
    max_output_tokens: int = 1024,
) -> AnswerStream:
    """The answer as it is written: ``async for piece in stream(...)``; ``.answer`` (provider,
    usage, fallbacks) once the iteration ended. Nothing is asked until you iterate (in the
    tenant's scope). Falls back like :func:`complete` until a provider sends its first
    piece."""
    from plugins.ai._engine import run_stream

    return run_stream(
        platform,
        plugin=plugin,
        task=task,
        prompt=prompt,
        system=system,
        max_output_tokens=max_output_tokens,
    )


async def embed(platform: Platform, *, plugin: str, task: str, texts: Sequence[str]) -> Embeddings:
    """Vectors for ``texts`` (redacted like prompts) from the first of the task's providers
    that has embeddings; :class:`NoEmbeddingsError` when none has (offline has none)."""
    from plugins.ai._engine import run_embed

    return await run_embed(platform, plugin=plugin, task=task, texts=list(texts))
