"""The Anthropic model provider: the Messages API through the official SDK
(``anthropic.AsyncAnthropic``), one client per request with the tenant's key.

Structured output is a single tool whose input schema is the requested schema, which the
model is made to call (``tool_choice``); the answer is the tool call's input as JSON. The SDK
never retries (``max_retries=0``): the gateway calls through the kernel's resilience helper,
which retries what :meth:`AnthropicProvider.classify` calls transient. A throttled (429) or
overloaded (529) answer that says how long to wait is raised as the kernel's
``TransientError`` with that wait. Anthropic has no embeddings.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

from kernel import Classification, Platform, RejectedError, SecretValue, TransientError
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
    Usage,
    retry_after_seconds,
)
from plugins.anthropic.config import AnthropicSettings, settings_of

NAME = "anthropic"
TRANSIENT_STATUSES = frozenset({408, 409, 429})
"""4xx answers about timing, not the request; 5xx (529 overloaded among them) are transient
too."""


class AnthropicProvider:
    """One per platform, shared by every tenant: the key comes with each call."""

    name = NAME

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings: AnthropicSettings = settings_of(platform)

    def client(self, api_key: SecretValue | None) -> AsyncAnthropic:
        """An SDK client for one request (keep it no longer: it holds the key)."""
        if api_key is None:
            raise RejectedError(NAME, "no Anthropic key is stored (anthropic.api_key)")
        return AsyncAnthropic(
            api_key=api_key.reveal(),
            base_url=self.settings.base_url,
            max_retries=0,
            timeout=self.settings.timeout_seconds,
            http_client=self.platform.resilience.http,
        )

    # --- the provider contract -------------------------------------------------------------

    async def complete(self, credentials: Credentials, request: ChatRequest) -> ChatResult:
        client = self.client(credentials.api_key)
        with honour_retry_after():
            message = await client.messages.create(**message_params(request))
        if request.output_schema is not None:
            inputs = [b.input for b in message.content if b.type == "tool_use"]
            text = json.dumps(inputs[0]) if inputs else ""
        else:
            text = "".join(b.text for b in message.content if b.type == "text")
        return ChatResult(
            text=text,
            usage=Usage(message.usage.input_tokens, message.usage.output_tokens),
            model=message.model,
            stop_reason=message.stop_reason,
        )

    async def stream(
        self, credentials: Credentials, request: ChatRequest
    ) -> AsyncIterator[ChatStreamItem]:
        client = self.client(credentials.api_key)
        input_tokens = output_tokens = 0
        model = request.model
        stop_reason: str | None = None
        with honour_retry_after():
            events = await client.messages.create(**message_params(request), stream=True)
            async with events:
                async for event in events:
                    if event.type == "message_start":
                        model = event.message.model
                        input_tokens = event.message.usage.input_tokens
                        output_tokens = event.message.usage.output_tokens
                    elif event.type == "content_block_delta":
                        if event.delta.type == "text_delta" and event.delta.text:
                            yield ChatDelta(event.delta.text)
                        elif event.delta.type == "input_json_delta" and event.delta.partial_json:
                            yield ChatDelta(event.delta.partial_json)
                    elif event.type == "message_delta":
                        output_tokens = event.usage.output_tokens
                        stop_reason = event.delta.stop_reason or stop_reason
        yield ChatEnd(
            usage=Usage(input_tokens, output_tokens), model=model, stop_reason=stop_reason
        )

    async def embed(self, credentials: Credentials, request: EmbeddingRequest) -> EmbeddingResult:
        raise EmbeddingsUnsupportedError("Anthropic offers no embeddings")

    def classify(self, exc: Exception) -> Classification | None:
        return classify(exc)

    # --- the vault's key check -------------------------------------------------------------

    async def count_models(self, api_key: SecretValue, *, tenant_id: Any) -> int:
        """How many models the key may use (Anthropic answers 401 to a wrong key), through
        the resilience helper and the tenant's ``anthropic`` breaker."""
        client = self.client(api_key)

        async def attempt() -> int:
            with honour_retry_after():
                page = await client.models.list()
            return len(page.data)

        return await self.platform.resilience.call(
            NAME, attempt, tenant_id=tenant_id, classify=classify
        )


def message_params(request: ChatRequest) -> dict[str, Any]:
    """The Messages body of ``request``: the tenant's instructions as ``system``, a schema as
    the one tool the model must call."""
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_output_tokens,
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }
    if request.system:
        params["system"] = request.system
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.output_schema is not None:
        name = tool_name(request.output_name)
        params["tools"] = [
            {
                "name": name,
                "description": "Give the answer as this tool's input.",
                "input_schema": dict(request.output_schema),
            }
        ]
        params["tool_choice"] = {"type": "tool", "name": name}
    return params


def tool_name(name: str | None) -> str:
    """Anthropic's tool names: letters, digits, ``_`` and ``-``, at most 64."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name or "answer")
    return cleaned[:64] or "answer"


def classify(exc: Exception) -> Classification | None:
    """Timeouts, connection errors, 5xx (529 overloaded), 408, 409 and 429 are transient; any
    other refusal (401, 403, 400, 404, 413, 422) is not retried."""
    if isinstance(exc, anthropic.APIConnectionError):  # APITimeoutError too
        return "transient"
    if isinstance(exc, anthropic.APIStatusError):
        status = exc.status_code
        if status >= 500 or status in TRANSIENT_STATUSES:
            return "transient"
        return "rejected"
    return None


@contextmanager
def honour_retry_after() -> Iterator[None]:
    """A transient answer (429, 529, 5xx) that says how long to wait becomes the kernel's
    :class:`TransientError` with that wait (``retry-after-ms`` or ``retry-after``), so the
    resilience helper honours it; any other error passes unchanged, for :func:`classify`."""
    try:
        yield
    except anthropic.APIStatusError as exc:
        wait = retry_after_seconds(exc.response.headers) if classify(exc) == "transient" else None
        if wait is None:
            raise
        raise TransientError(
            NAME,
            f"{NAME} asked to wait (HTTP {exc.status_code})",
            status=exc.status_code,
            retry_after=wait,
        ) from exc
