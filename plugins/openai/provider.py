"""The OpenAI model provider: Chat Completions, streaming and embeddings through the official
SDK (``openai.AsyncOpenAI``), one client per request with the tenant's key.

The SDK never retries (``max_retries=0``): the gateway calls through the kernel's resilience
helper, which retries what :meth:`OpenAIProvider.classify` calls transient. A throttled
request (429) that says how long to wait is raised as the kernel's ``TransientError`` with
that wait, so the helper honours it. Requests go to ``KRALIKI_OPENAI_BASE_URL`` over the
platform's shared HTTP client (one connection pool, traced).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import openai
from openai import AsyncOpenAI

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
    Usage,
    retry_after_seconds,
)
from plugins.openai.config import OpenAISettings, settings_of
from plugins.openai.schema import strict_schema

NAME = "openai"
TRANSIENT_STATUSES = frozenset({408, 409, 429})
"""4xx answers OpenAI gives for timing, not for the request (409: a lock timed out)."""
NOT_RETRYABLE_CODES = frozenset({"insufficient_quota"})
"""429s that no wait cures: the account is out of credit."""


class OpenAIProvider:
    """One per platform, shared by every tenant: the key comes with each call."""

    name = NAME

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings: OpenAISettings = settings_of(platform)

    def client(self, api_key: SecretValue | None) -> AsyncOpenAI:
        """An SDK client for one request (keep it no longer: it holds the key)."""
        if api_key is None:
            raise RejectedError(NAME, "no OpenAI key is stored (openai.api_key)")
        client = AsyncOpenAI(
            api_key=api_key.reveal(),
            base_url=self.settings.base_url,
            max_retries=0,
            timeout=self.settings.timeout_seconds,
            http_client=self.platform.resilience.http,
        )
        # The SDK would add the operator's OPENAI_ORG_ID / OPENAI_PROJECT_ID to a tenant's
        # request; the tenant's key alone decides.
        client.organization = None
        client.project = None
        return client

    # --- the provider contract -------------------------------------------------------------

    async def complete(self, credentials: Credentials, request: ChatRequest) -> ChatResult:
        client = self.client(credentials.api_key)
        with honour_retry_after():
            response = await client.chat.completions.create(**chat_params(request))
        choice = response.choices[0]
        return ChatResult(
            text=choice.message.content or "",
            usage=usage_of(response.usage),
            model=response.model,
            stop_reason=choice.finish_reason,
        )

    async def stream(
        self, credentials: Credentials, request: ChatRequest
    ) -> AsyncIterator[ChatStreamItem]:
        client = self.client(credentials.api_key)
        params = chat_params(request) | {"stream": True, "stream_options": {"include_usage": True}}
        usage = Usage(0, 0)
        model = request.model
        stop_reason: str | None = None
        with honour_retry_after():
            async with await client.chat.completions.create(**params) as chunks:
                async for chunk in chunks:
                    model = chunk.model or model
                    if chunk.usage is not None:
                        usage = usage_of(chunk.usage)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            yield ChatDelta(choice.delta.content)
                        if choice.finish_reason is not None:
                            stop_reason = choice.finish_reason
        yield ChatEnd(usage=usage, model=model, stop_reason=stop_reason)

    async def embed(self, credentials: Credentials, request: EmbeddingRequest) -> EmbeddingResult:
        client = self.client(credentials.api_key)
        with honour_retry_after():
            response = await client.embeddings.create(
                model=request.model, input=list(request.inputs), encoding_format="float"
            )
        vectors = [item.embedding for item in sorted(response.data, key=lambda d: d.index)]
        return EmbeddingResult(
            vectors=vectors,
            usage=Usage(response.usage.prompt_tokens, 0),
            model=response.model,
        )

    def classify(self, exc: Exception) -> Classification | None:
        return classify(exc)

    # --- the vault's key check -------------------------------------------------------------

    async def count_models(self, api_key: SecretValue, *, tenant_id: Any) -> int:
        """How many models the key may use (OpenAI answers 401 to a wrong key), through the
        resilience helper and the tenant's ``openai`` breaker."""
        client = self.client(api_key)

        async def attempt() -> int:
            with honour_retry_after():
                page = await client.models.list()
            return len(page.data)

        return await self.platform.resilience.call(
            NAME, attempt, tenant_id=tenant_id, classify=classify
        )


def chat_params(request: ChatRequest) -> dict[str, Any]:
    """The Chat Completions body of ``request``: the tenant's instructions as the system
    message, the schema (strict when it can be) as ``response_format``."""
    messages: list[dict[str, str]] = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages.extend({"role": m.role, "content": m.content} for m in request.messages)
    params: dict[str, Any] = {
        "model": request.model,
        "messages": messages,
        "max_completion_tokens": request.max_output_tokens,
    }
    if request.temperature is not None:
        params["temperature"] = request.temperature
    if request.output_schema is not None:
        strict = strict_schema(request.output_schema)
        params["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": schema_name(request.output_name),
                "schema": strict if strict is not None else dict(request.output_schema),
                "strict": strict is not None,
            },
        }
    return params


def schema_name(name: str | None) -> str:
    """OpenAI's schema names: letters, digits, ``_`` and ``-``, at most 64."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name or "answer")
    return cleaned[:64] or "answer"


def usage_of(usage: Any) -> Usage:
    if usage is None:
        return Usage(0, 0)
    return Usage(int(usage.prompt_tokens or 0), int(usage.completion_tokens or 0))


def classify(exc: Exception) -> Classification | None:
    """Timeouts, connection errors, 5xx, 408, 409 and 429 are transient; any other refusal
    (401, 403, 400, 404, 422, a 429 for exhausted quota) is not retried."""
    if isinstance(exc, openai.APIConnectionError):  # APITimeoutError too
        return "transient"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        if status == 429 and exc.code in NOT_RETRYABLE_CODES:
            return "rejected"
        if status >= 500 or status in TRANSIENT_STATUSES:
            return "transient"
        return "rejected"
    return None


@contextmanager
def honour_retry_after() -> Iterator[None]:
    """A transient answer (429, 5xx) that says how long to wait becomes the kernel's
    :class:`TransientError` with that wait (``retry-after-ms`` or ``retry-after``), so the
    resilience helper honours it; any other error passes unchanged, for :func:`classify`."""
    try:
        yield
    except openai.APIStatusError as exc:
        wait = retry_after_seconds(exc.response.headers) if classify(exc) == "transient" else None
        if wait is None:
            raise
        raise TransientError(
            NAME,
            f"{NAME} asked to wait (HTTP {exc.status_code})",
            status=exc.status_code,
            retry_after=wait,
        ) from exc
