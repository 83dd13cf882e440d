"""``/api/v1/ai/health``, ``/providers``, ``/tasks``: what the organization's AI is made of
and how each provider behaves for it (``ai-health``: checkHealth, getMetrics,
resetCircuitBreaker)."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from kernel import (
    Platform,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    problem_responses,
    record_audit_event,
    require,
)
from plugins.ai import health
from plugins.ai.offline.provider import OFFLINE, OFFLINE_MODEL
from plugins.ai.permissions import AI_HEALTH_READ, AI_HEALTH_RESET
from plugins.ai.problems import PROVIDER_NOT_FOUND
from plugins.ai.registry import ai_state
from plugins.ai.settings import tenant_settings

router = APIRouter(tags=["ai"])

Reader = Annotated[Principal, Depends(require(AI_HEALTH_READ.resource, AI_HEALTH_READ.action))]
Resetter = Annotated[Principal, Depends(require(AI_HEALTH_RESET.resource, AI_HEALTH_RESET.action))]


class AiLatency(BaseModel):
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


class AiLastError(BaseModel):
    error: str
    """The error's class (``RateLimitError``, ``TransientError``); never its message."""
    at: datetime


class AiProviderHealth(BaseModel):
    provider: str
    breaker_state: str
    """``closed``, ``open``, ``half_open``, ``forced_open`` or ``forced_closed``."""
    requests: int
    errors: int
    error_rate: float | None
    latency: AiLatency
    last_error: AiLastError | None


class AiHealthOut(BaseModel):
    window_seconds: float
    scope: str = "worker"
    """Figures and breakers are this worker's (in memory); each worker sees its own."""
    providers: list[AiProviderHealth]


async def _health(platform: Platform, tenant_id: uuid.UUID, name: str) -> AiProviderHealth:
    breakers = platform.resilience.breakers
    key = (tenant_id, name)
    state = (await breakers.snapshot(key)).state if await breakers.known(key) else "closed"
    figures = health.figures(platform, tenant_id, name)
    return AiProviderHealth(
        provider=name,
        breaker_state=state,
        requests=figures.requests,
        errors=figures.errors,
        error_rate=figures.error_rate,
        latency=AiLatency(p50_ms=figures.p50_ms, p95_ms=figures.p95_ms, p99_ms=figures.p99_ms),
        last_error=AiLastError(error=figures.last_error, at=figures.last_error_at)
        if figures.last_error is not None and figures.last_error_at is not None
        else None,
    )


@router.get("/health", response_model=AiHealthOut, summary="Each model provider's health")
async def get_health(principal: Reader, platform: PlatformDep) -> AiHealthOut:
    """Per provider (the offline one never fails and is not listed): the organization's
    circuit breaker, requests and errors, latency percentiles and the last error over the
    last 15 minutes."""
    assert principal.tenant_id is not None
    names = sorted(ai_state(platform).providers)
    return AiHealthOut(
        window_seconds=health.WINDOW_SECONDS,
        providers=[await _health(platform, principal.tenant_id, name) for name in names],
    )


@router.post(
    "/health/{provider}/reset",
    response_model=AiProviderHealth,
    summary="Reset a model provider's circuit breaker",
    responses=problem_responses(PROVIDER_NOT_FOUND),
)
async def reset_breaker(
    provider: str,
    principal: Resetter,
    platform: PlatformDep,
    session: SessionDep,
    request: Request,
) -> AiProviderHealth:
    """Closed, failures cleared, any forcing ended: the next request tries the provider."""
    assert principal.tenant_id is not None
    if provider not in ai_state(platform).providers:
        raise ProblemError(PROVIDER_NOT_FOUND, f"no model provider named {provider!r}")
    breakers = platform.resilience.breakers
    key = (principal.tenant_id, provider)
    previous = "closed"
    if await breakers.known(key):
        previous = (await breakers.snapshot(key)).state
        await breakers.reset(key)
    record_audit_event(
        session,
        principal,
        "ai.breaker_reset",
        request=request,
        target_type="ai_provider",
        target_id=provider,
        details={"provider": provider, "previous_state": previous},
    )
    await session.commit()
    return await _health(platform, principal.tenant_id, provider)


class AiPrice(BaseModel):
    input_per_million: Decimal
    output_per_million: Decimal


class AiProviderOut(BaseModel):
    name: str
    description: str
    chat_model: str
    embedding_model: str | None
    embedding_dimensions: int | None
    prices: dict[str, AiPrice]
    """US dollars per million tokens, per model (list prices: the usage estimate)."""
    key_secret: str | None
    """The vault secret holding the organization's key (None: needs no key)."""
    has_key: bool
    """Whether the organization stored that key (never the key)."""


class AiProviderList(BaseModel):
    items: list[AiProviderOut]


@router.get("/providers", response_model=AiProviderList, summary="The model providers")
async def list_providers(_: Reader, platform: PlatformDep, session: SessionDep) -> AiProviderList:
    items = [
        AiProviderOut(
            name=OFFLINE,
            description="Built in: local and deterministic, needs no key, never leaves the "
            "platform; answers every task (lexicon sentiment, extractive summaries).",
            chat_model=OFFLINE_MODEL,
            embedding_model=None,
            embedding_dimensions=None,
            prices={},
            key_secret=None,
            has_key=True,
        )
    ]
    providers = ai_state(platform).providers
    for name in sorted(providers):
        spec = providers.get(name)
        has_key = spec.key_secret is None
        if spec.key_secret is not None:
            has_key = await platform.vault.get(session, spec.key_secret) is not None
        items.append(
            AiProviderOut(
                name=spec.name,
                description=spec.description,
                chat_model=spec.chat_model,
                embedding_model=spec.embedding_model,
                embedding_dimensions=spec.embedding_dimensions,
                prices={
                    model: AiPrice(
                        input_per_million=price.input_per_million,
                        output_per_million=price.output_per_million,
                    )
                    for model, price in spec.prices.items()
                },
                key_secret=spec.key_secret,
                has_key=has_key,
            )
        )
    return AiProviderList(items=items)


class AiTaskOut(BaseModel):
    name: str
    description: str
    provider: str
    """Who answers it for the organization (its route; offline when none)."""
    model: str | None


class AiTaskList(BaseModel):
    items: list[AiTaskOut]


@router.get("/tasks", response_model=AiTaskList, summary="The AI tasks plugins ask")
async def list_tasks(principal: Reader, platform: PlatformDep) -> AiTaskList:
    assert principal.tenant_id is not None
    settings = await tenant_settings(platform, principal.tenant_id)
    tasks = ai_state(platform).tasks
    items = []
    for name in sorted(tasks):
        route = settings.routes.get(name)
        items.append(
            AiTaskOut(
                name=name,
                description=tasks.get(name).description,
                provider=route.provider if route is not None else OFFLINE,
                model=route.model if route is not None else None,
            )
        )
    return AiTaskList(items=items)
