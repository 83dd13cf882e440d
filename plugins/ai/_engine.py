"""How the gateway answers (private: plugins use :mod:`plugins.ai.gateway`).

For a task: the candidates are the tenant's provider for it, its fallback order, then the
offline provider, without repeats. Each candidate other than offline is passed over (a
:class:`Fallback` in the answer) when the month's budget is spent, when the tenant has no
key for it, when its breaker is open, or when it fails (after the resilience helper's
retries) or answers something that is not the ``output`` asked for. The offline provider
always answers. Requests leave redacted (when the tenant's redaction is on) and with the
tenant's instructions; every answer is metered; prompts are logged only when the tenant
enabled it.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from opentelemetry import trace
from pydantic import BaseModel, ValidationError

from kernel import (
    CircuitOpenError,
    Platform,
    SecretValue,
    VaultError,
    current_tenant_id,
    tenant_scope,
)
from plugins.ai import health, metering
from plugins.ai.gateway import (
    Answer,
    AnswerStream,
    Embeddings,
    Fallback,
    NoEmbeddingsError,
    Prompt,
)
from plugins.ai.offline.provider import OFFLINE, OfflineProvider
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
    ModelProvider,
    ModelProviderSpec,
    Usage,
)
from plugins.ai.registry import AiState, ai_state
from plugins.ai.settings import TenantSettings, tenant_settings

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R")

logger = logging.getLogger("kraliki.ai")
prompt_logger = logging.getLogger("kraliki.ai.prompts")

CALL_TIMEOUT_SECONDS = 60.0
"""Per attempt: a long answer takes a while to write."""


def messages_of(prompt: Prompt) -> list[ChatMessage]:
    if isinstance(prompt, str):
        return [ChatMessage("user", prompt)]
    return list(prompt)


def _tracer(platform: Platform) -> trace.Tracer:
    provider = platform.tracing.provider
    return provider.get_tracer("kraliki.ai") if provider is not None else trace.get_tracer("ai")


def _tenant() -> uuid.UUID:
    tenant = current_tenant_id()
    if tenant is None:
        raise RuntimeError("the AI gateway is asked inside a tenant's scope (tenant_scope)")
    return tenant


def _task(state: AiState, plugin: str, task: str) -> None:
    if task not in state.tasks:
        raise ValueError(f"plugin {plugin!r} asked for the undeclared AI task {task!r}")


def candidates(settings: TenantSettings, task: str) -> list[tuple[str, str | None]]:
    """(provider, model or None for its default) in the order they are tried."""
    route = settings.routes.get(task)
    names: list[tuple[str, str | None]] = []
    if route is not None:
        names.append((route.provider, route.model))
    names.extend((name, None) for name in settings.fallback)
    names.append((OFFLINE, None))
    seen: set[str] = set()
    ordered = []
    for name, model in names:
        if name not in seen:
            seen.add(name)
            ordered.append((name, model))
        if name == OFFLINE:
            break
    return ordered


@dataclass(frozen=True)
class Ask:
    """One request to the gateway, as it came (before redaction)."""

    platform: Platform
    tenant_id: uuid.UUID
    plugin: str
    task: str
    settings: TenantSettings
    request: ChatRequest
    """With the tenant's instructions; not redacted (the offline provider's)."""

    def outbound(self, model: str) -> ChatRequest:
        """The request as it leaves the platform: redacted when the tenant's setting is on."""
        request = replace(self.request, model=model)
        if not self.settings.redaction:
            return request
        redact = self.settings.redact
        return replace(
            request,
            system=redact(request.system) if request.system is not None else None,
            messages=[ChatMessage(m.role, redact(m.content)) for m in request.messages],
        )


def _system(settings: TenantSettings, system: str | None) -> str | None:
    parts = [part for part in (settings.instructions.strip(), system) if part]
    return "\n\n".join(parts) if parts else None


async def _ask(
    platform: Platform,
    *,
    plugin: str,
    task: str,
    prompt: Prompt,
    system: str | None,
    output: type[BaseModel] | None,
    max_output_tokens: int,
) -> Ask:
    state = ai_state(platform)
    _task(state, plugin, task)
    tenant = _tenant()
    settings = await tenant_settings(platform, tenant)
    request = ChatRequest(
        task=task,
        model=OFFLINE,
        system=_system(settings, system),
        messages=messages_of(prompt),
        output_schema=output.model_json_schema() if output is not None else None,
        output_name=output.__name__ if output is not None else None,
        max_output_tokens=max_output_tokens,
    )
    return Ask(platform, tenant, plugin, task, settings, request)


async def _credentials(
    platform: Platform, spec: ModelProviderSpec, task: str
) -> Credentials | None:
    """The tenant's key for ``spec`` (None: not stored, or unreadable)."""
    if spec.key_secret is None:
        return Credentials(api_key=None)
    key: SecretValue | None
    try:
        async with platform.database.session() as session:
            key = await platform.vault.reveal_cached(
                session, spec.key_secret, plugin=spec.name, purpose=f"ai task {task}"
            )
    except VaultError as exc:
        logger.warning("ai: the %s key could not be read (%s)", spec.name, type(exc).__name__)
        return None
    return None if key is None else Credentials(api_key=key)


async def _budget_spent(ask: Ask) -> bool:
    if ask.settings.monthly_budget is None:
        return False
    spent = await metering.month_spend(ask.platform, ask.tenant_id)
    return metering.exhausted(ask.settings, spent)


@dataclass(frozen=True)
class Ready:
    """A candidate that may be called: its provider, key and the request to send."""

    spec: ModelProviderSpec
    provider: ModelProvider
    credentials: Credentials
    request: ChatRequest


async def _ready(
    ask: Ask, name: str, model: str | None, fallbacks: list[Fallback], *, embeddings: bool
) -> Ready | None:
    """Whether ``name`` may be asked; else the reason is added to ``fallbacks``."""
    state = ai_state(ask.platform)
    if name not in state.providers:
        fallbacks.append(Fallback(name, "failed", "provider not loaded"))
        return None
    spec = state.providers.get(name)
    if embeddings and spec.embedding_model is None:
        fallbacks.append(Fallback(name, "embeddings_unsupported"))
        return None
    with tenant_scope(ask.tenant_id):
        if await _budget_spent(ask):
            fallbacks.append(Fallback(name, "budget_exhausted"))
            return None
        credentials = await _credentials(ask.platform, spec, ask.task)
    if credentials is None:
        fallbacks.append(Fallback(name, "no_key", f"store {spec.key_secret} in the vault"))
        return None
    provider = state.provider(ask.platform, name)
    chosen = (spec.embedding_model or "") if embeddings else (model or spec.chat_model)
    return Ready(spec, provider, credentials, ask.outbound(chosen))


async def _call(ask: Ask, ready: Ready, operation: Callable[[], Awaitable[R]]) -> R:
    """Through the resilience helper (the tenant's breaker named after the provider); the
    outcome observed for health (not a call the open breaker refused: nothing was called)."""
    started = time.monotonic()
    try:
        result = await ask.platform.resilience.call(
            ready.spec.name,
            operation,
            tenant_id=ask.tenant_id,
            timeout=CALL_TIMEOUT_SECONDS,
            classify=ready.provider.classify,
        )
    except CircuitOpenError:
        raise
    except Exception as exc:
        error = type(exc.__cause__ if exc.__cause__ is not None else exc).__name__
        health.observe(ask.platform, ask.tenant_id, ready.spec.name, _ms(started), error)
        raise
    health.observe(ask.platform, ask.tenant_id, ready.spec.name, _ms(started), None)
    return result


def _completion(ready: Ready) -> Callable[[], Awaitable[ChatResult]]:
    def attempt() -> Awaitable[ChatResult]:
        return ready.provider.complete(ready.credentials, ready.request)

    return attempt


def _embedding(ready: Ready, request: EmbeddingRequest) -> Callable[[], Awaitable[EmbeddingResult]]:
    def attempt() -> Awaitable[EmbeddingResult]:
        return ready.provider.embed(ready.credentials, request)

    return attempt


def _ms(started: float) -> float:
    return (time.monotonic() - started) * 1000


def _failure(name: str, exc: Exception) -> Fallback:
    if isinstance(exc, CircuitOpenError):
        return Fallback(name, "breaker_open")
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return Fallback(name, "failed", type(cause).__name__)


def _price(spec: ModelProviderSpec, *models: str) -> Any:
    for model in models:
        if model in spec.prices:
            return spec.prices[model]
    return None


async def _meter(
    ask: Ask, provider: str, model: str, usage: Usage, price: Any, *, buffered: bool
) -> None:
    with tenant_scope(ask.tenant_id):
        await metering.record(
            ask.platform,
            ask.settings,
            tenant_id=ask.tenant_id,
            plugin=ask.plugin,
            task=ask.task,
            provider=provider,
            model=model,
            usage=usage,
            price=price,
            buffered=buffered,
        )


def _log(
    ask: Ask, provider: str, model: str, usage: Usage, fallbacks: list[Fallback], text: str
) -> None:
    logger.info(
        "ai answered: task=%s plugin=%s provider=%s model=%s input_tokens=%d "
        "output_tokens=%d fell_back=%s",
        ask.task,
        ask.plugin,
        provider,
        model,
        usage.input_tokens,
        usage.output_tokens,
        ",".join(f"{f.provider}:{f.reason}" for f in fallbacks) or "no",
    )
    if ask.settings.log_prompts:
        redact = ask.settings.redact if ask.settings.redaction else (lambda value: value)
        prompt_logger.info(
            "ai prompt and answer: task=%s system=%s messages=%s answer=%s",
            ask.task,
            json.dumps(redact(ask.request.system or "")),
            json.dumps([redact(m.content) for m in ask.request.messages]),
            json.dumps(redact(text)),
        )


def _offline(platform: Platform) -> OfflineProvider:
    state = ai_state(platform)
    return OfflineProvider({name: state.tasks.get(name) for name in state.tasks})


def _span_attributes(ask: Ask) -> dict[str, Any]:
    return {"ai.task": ask.task, "ai.plugin": ask.plugin, "ai.tenant_id": str(ask.tenant_id)}


def _end_span(
    span: trace.Span, provider: str, model: str, usage: Usage, fallbacks: list[Fallback]
) -> None:
    span.set_attribute("ai.provider", provider)
    span.set_attribute("ai.model", model)
    span.set_attribute("ai.input_tokens", usage.input_tokens)
    span.set_attribute("ai.output_tokens", usage.output_tokens)
    span.set_attribute("ai.fell_back", bool(fallbacks))
    if fallbacks:
        span.set_attribute("ai.fallbacks", [f"{f.provider}:{f.reason}" for f in fallbacks])


async def run_complete(
    platform: Platform,
    *,
    plugin: str,
    task: str,
    prompt: Prompt,
    output: type[T] | None,
    system: str | None,
    max_output_tokens: int,
) -> Answer[T]:
    ask = await _ask(
        platform,
        plugin=plugin,
        task=task,
        prompt=prompt,
        system=system,
        output=output,
        max_output_tokens=max_output_tokens,
    )
    fallbacks: list[Fallback] = []
    with _tracer(platform).start_as_current_span(
        "ai.complete", attributes=_span_attributes(ask)
    ) as span:
        for name, model in candidates(ask.settings, task):
            if name == OFFLINE:
                break
            ready = await _ready(ask, name, model, fallbacks, embeddings=False)
            if ready is None:
                continue
            try:
                result: ChatResult = await _call(ask, ready, _completion(ready))
            except Exception as exc:
                fallbacks.append(_failure(name, exc))
                continue
            parsed: T | None = None
            if output is not None:
                try:
                    parsed = output.model_validate_json(result.text)
                except ValidationError:
                    fallbacks.append(Fallback(name, "failed", "invalid_output"))
                    continue
            price = _price(ready.spec, result.model, ready.request.model)
            await _meter(ask, name, result.model, result.usage, price, buffered=False)
            _log(ask, name, result.model, result.usage, fallbacks, result.text)
            _end_span(span, name, result.model, result.usage, fallbacks)
            return Answer(
                text=result.text,
                parsed=parsed,
                provider=name,
                model=result.model,
                usage=result.usage,
                fallbacks=tuple(fallbacks),
            )
        offline = _offline(platform)
        result = await offline.complete(Credentials(api_key=None), ask.request)
        parsed = output.model_validate_json(result.text) if output is not None else None
        await _meter(ask, OFFLINE, result.model, result.usage, None, buffered=True)
        _log(ask, OFFLINE, result.model, result.usage, fallbacks, result.text)
        _end_span(span, OFFLINE, result.model, result.usage, fallbacks)
        return Answer(
            text=result.text,
            parsed=parsed,
            provider=OFFLINE,
            model=result.model,
            usage=result.usage,
            fallbacks=tuple(fallbacks),
        )


# --- streaming ----------------------------------------------------------------------------


def run_stream(
    platform: Platform,
    *,
    plugin: str,
    task: str,
    prompt: Prompt,
    system: str | None,
    max_output_tokens: int,
) -> AnswerStream:
    """Starts when iterated: falls back until a provider gives its first piece; after that
    the stream is that provider's (an error then ends the iteration with it)."""
    _task(ai_state(platform), plugin, task)
    tenant = _tenant()
    holder = AnswerStream(chunks=_nothing())

    async def chunks() -> AsyncIterator[str]:
        with tenant_scope(tenant):
            ask = await _ask(
                platform,
                plugin=plugin,
                task=task,
                prompt=prompt,
                system=system,
                output=None,
                max_output_tokens=max_output_tokens,
            )
        fallbacks: list[Fallback] = []
        for name, model in candidates(ask.settings, task):
            if name == OFFLINE:
                break
            ready = await _ready(ask, name, model, fallbacks, embeddings=False)
            if ready is None:
                continue

            async def open_stream(
                r: Ready = ready,
            ) -> tuple[AsyncIterator[ChatStreamItem], ChatStreamItem]:
                iterator = aiter(r.provider.stream(r.credentials, r.request))
                return iterator, await anext(iterator)

            try:
                iterator, first = await _call(ask, ready, open_stream)
            except Exception as exc:
                fallbacks.append(_failure(name, exc))
                continue
            async for text in _relay(ask, name, ready, iterator, first, fallbacks, holder):
                yield text
            return
        offline = _offline(platform)
        iterator = aiter(offline.stream(Credentials(api_key=None), ask.request))
        first = await anext(iterator)
        async for text in _relay(ask, OFFLINE, None, iterator, first, fallbacks, holder):
            yield text

    holder.chunks = chunks()
    return holder


async def _nothing() -> AsyncIterator[str]:
    return
    yield  # pragma: no cover


async def _relay(
    ask: Ask,
    name: str,
    ready: Ready | None,
    iterator: AsyncIterator[ChatStreamItem],
    first: ChatStreamItem,
    fallbacks: list[Fallback],
    holder: AnswerStream,
) -> AsyncIterator[str]:
    pieces: list[str] = []
    item: ChatStreamItem | None = first
    while item is not None:
        if isinstance(item, ChatDelta):
            pieces.append(item.text)
            yield item.text
        elif isinstance(item, ChatEnd):
            text = "".join(pieces)
            price = _price(ready.spec, item.model, ready.request.model) if ready else None
            await _meter(ask, name, item.model, item.usage, price, buffered=ready is None)
            _log(ask, name, item.model, item.usage, fallbacks, text)
            holder.answer = Answer(
                text=text,
                parsed=None,
                provider=name,
                model=item.model,
                usage=item.usage,
                fallbacks=tuple(fallbacks),
            )
        item = await anext(iterator, None)


# --- embeddings ---------------------------------------------------------------------------


async def run_embed(platform: Platform, *, plugin: str, task: str, texts: list[str]) -> Embeddings:
    ask = await _ask(
        platform,
        plugin=plugin,
        task=task,
        prompt="\n".join(texts),
        system=None,
        output=None,
        max_output_tokens=1,
    )
    with _tracer(platform).start_as_current_span(
        "ai.embed", attributes={**_span_attributes(ask), "ai.inputs": len(texts)}
    ) as span:
        embeddings = await _embed(ask, texts)
        _end_span(span, embeddings.provider, embeddings.model, embeddings.usage, [])
        return embeddings


async def _embed(ask: Ask, texts: list[str]) -> Embeddings:
    plugin, task = ask.plugin, ask.task
    fallbacks: list[Fallback] = []
    redact = ask.settings.redact if ask.settings.redaction else (lambda value: value)
    inputs = [redact(text) for text in texts]
    for name, model in candidates(ask.settings, task):
        if name == OFFLINE:
            fallbacks.append(Fallback(OFFLINE, "embeddings_unsupported"))
            break
        ready = await _ready(ask, name, model, fallbacks, embeddings=True)
        if ready is None:
            continue
        request = EmbeddingRequest(task=task, model=ready.request.model, inputs=inputs)
        try:
            result = await _call(ask, ready, _embedding(ready, request))
        except EmbeddingsUnsupportedError:
            fallbacks.append(Fallback(name, "embeddings_unsupported"))
            continue
        except Exception as exc:
            if isinstance(exc.__cause__, EmbeddingsUnsupportedError):
                fallbacks.append(Fallback(name, "embeddings_unsupported"))
            else:
                fallbacks.append(_failure(name, exc))
            continue
        price = _price(ready.spec, result.model, request.model)
        await _meter(ask, name, result.model, result.usage, price, buffered=False)
        logger.info(
            "ai embedded: task=%s plugin=%s provider=%s model=%s inputs=%d input_tokens=%d",
            task,
            plugin,
            name,
            result.model,
            len(inputs),
            result.usage.input_tokens,
        )
        return Embeddings(
            vectors=result.vectors,
            provider=name,
            model=result.model,
            usage=result.usage,
            fallbacks=tuple(fallbacks),
        )
    raise NoEmbeddingsError(tuple(fallbacks))
