"""Provider webhook ingest: verify, de-duplicate, persist, apply, then answer.

A provider plugin mounts :func:`provider_webhook_router` through ``kraliki_webhook_routes``;
its callbacks arrive at ``/webhooks/<provider>/<tenant id>/<kind>``. Nothing changes before
the request is verified with that tenant's secret (403 otherwise); an authentic request that
cannot be understood gets 400; an accepted one is kept (redacted) with what it was answered,
so a redelivery is recognised and answered the same, and nothing is lost.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    CircuitOpenError,
    DependencyError,
    Platform,
    ProblemError,
    SecretUnavailableError,
    Tenant,
    get_platform,
    public,
    tenant_scope,
)
from plugins.calls import service
from plugins.calls.models import Call, WebhookReceipt
from plugins.calls.phone import is_e164
from plugins.calls.problems import (
    WEBHOOK_MALFORMED,
    WEBHOOK_NOT_FOUND,
    WEBHOOK_SIGNATURE_INVALID,
    WEBHOOK_TOO_LARGE,
)
from plugins.calls.provider import (
    CallProgress,
    CallStatus,
    Direction,
    InstructionsNeeded,
    NormalizedEvent,
    ParsedWebhook,
    RecordingProgress,
    TelephonyProvider,
    TranscriptSegment,
    WebhookAnswer,
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
)
from plugins.calls.registry import build_provider, calls_state
from plugins.calls.routing import next_instructions

logger = logging.getLogger(__name__)

KIND = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


def provider_webhook_router(provider: str) -> APIRouter:
    """The webhook route of one provider: ``POST /{tenant_id}/{kind}``."""
    router = APIRouter()

    @router.post(
        "/{tenant_id}/{kind}",
        dependencies=[Depends(public(f"{provider} webhooks, verified with the tenant's secret"))],
        summary=f"Receive a {provider} callback (verified with the tenant's {provider} secret)",
        response_class=Response,
    )
    async def receive(tenant_id: uuid.UUID, kind: str, request: Request) -> Response:
        return await ingest(get_platform(request), provider, tenant_id, kind, request)

    receive.__name__ = f"receive_{provider}_webhook"
    return router


async def ingest(
    platform: Platform, provider_name: str, tenant_id: uuid.UUID, kind: str, request: Request
) -> Response:
    state = calls_state(platform)
    if not KIND.match(kind) or provider_name not in state.providers:
        raise ProblemError(WEBHOOK_NOT_FOUND)
    body = await request.body()
    if len(body) > state.settings.max_webhook_bytes:
        raise ProblemError(WEBHOOK_TOO_LARGE)
    with tenant_scope(tenant_id):
        await _check_tenant(platform, tenant_id, provider_name)
        provider = build_provider(platform, tenant_id, provider_name)
        webhook = _webhook_request(request, kind, body, state.settings)
        try:
            await provider.verify_webhook(webhook)
        except (WebhookRejected, SecretUnavailableError) as exc:
            logger.warning("rejected %s webhook for tenant %s: %s", provider_name, tenant_id, exc)
            raise ProblemError(WEBHOOK_SIGNATURE_INVALID) from None
        try:
            parsed = provider.parse_webhook(webhook)
        except WebhookMalformed as exc:
            raise ProblemError(WEBHOOK_MALFORMED, str(exc)[:300]) from None
        call_hint = _call_hint(webhook)
        answer = await _process(platform, provider, provider_name, kind, parsed, call_hint)
    return Response(
        content=answer.body, status_code=answer.status_code, media_type=answer.content_type
    )


async def _check_tenant(platform: Platform, tenant_id: uuid.UUID, provider: str) -> None:
    """404 for a tenant that does not exist or turned calls (or this provider) off: the URL
    says nothing about who exists."""

    async with platform.database.session() as session:
        row = (
            await session.execute(select(Tenant.disabled_plugins).where(Tenant.id == tenant_id))
        ).first()
    if row is None or {"calls", provider} & set(row.disabled_plugins or ()):
        raise ProblemError(WEBHOOK_NOT_FOUND)


def _webhook_request(request: Request, kind: str, body: bytes, settings: Any) -> WebhookRequest:
    headers = {name.lower(): value for name, value in request.headers.items()}
    form: dict[str, str] | None = None
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return WebhookRequest(
        kind=kind,
        method=request.method,
        url=public_url(request, settings),
        headers=headers,
        body=body,
        form=form,
        query=dict(request.query_params),
    )


def public_url(request: Request, settings: Any) -> str:
    """The URL the provider called, as it saw it (signatures cover it)."""
    base = settings.public_base_url.rstrip("/")
    if settings.trust_forwarded_headers and "x-forwarded-host" in request.headers:
        proto = request.headers.get("x-forwarded-proto", "https").split(",")[0].strip()
        host = request.headers["x-forwarded-host"].split(",")[0].strip()
        port = request.headers.get("x-forwarded-port")
        default_port = {"https": "443", "http": "80"}.get(proto)
        if port and port != default_port and ":" not in host:
            host = f"{host}:{port}"
        base = f"{proto}://{host}"
    query = request.url.query
    return f"{base}{request.url.path}" + (f"?{query}" if query else "")


def _call_hint(webhook: WebhookRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(webhook.query["call"]) if "call" in webhook.query else None
    except ValueError:
        return None


async def _process(
    platform: Platform,
    provider: TelephonyProvider,
    provider_name: str,
    kind: str,
    parsed: ParsedWebhook,
    call_hint: uuid.UUID | None,
) -> WebhookAnswer:
    async with platform.database.session() as session:
        receipt = await _claim_receipt(session, provider_name, kind, parsed)
        if receipt is None:  # a redelivery: answer as the first time
            return await _answer_duplicate(session, provider_name, parsed)
        to_run: list[tuple[Call, Sequence[Any]]] = []
        orphans: list[str] = []
        for event in parsed.events:
            call = await _call_for(platform, session, provider_name, event, call_hint)
            if call is None:
                orphans.append(type(event).__name__)
                continue
            steps = await _apply(platform, session, call, event)
            if steps:
                to_run.append((call, steps))
        if orphans:
            receipt.outcome = "orphan"
            receipt.error = f"no known call for {', '.join(orphans)}"
        await session.commit()
        answer = provider.empty_answer()
        try:
            for call, steps in to_run:
                answer = await provider.execute(service.call_ref(call), steps)
        except (DependencyError, CircuitOpenError) as exc:
            receipt.outcome, receipt.error = "failed", f"executing instructions: {exc}"[:500]
            await session.commit()
            raise
        receipt.answer_type, receipt.answer_body = answer.content_type, answer.body.decode()
        await session.commit()
        return answer


async def _claim_receipt(
    session: AsyncSession, provider: str, kind: str, parsed: ParsedWebhook
) -> WebhookReceipt | None:
    """Keep the webhook; None when it was kept before (a duplicate delivery)."""
    receipt = WebhookReceipt(
        provider=provider,
        dedupe_key=parsed.dedupe_key[:200],
        kind=kind,
        payload=dict(parsed.payload),
    )
    try:
        async with session.begin_nested():
            session.add(receipt)
    except IntegrityError:
        return None
    return receipt


async def _answer_duplicate(
    session: AsyncSession, provider: str, parsed: ParsedWebhook
) -> WebhookAnswer:
    receipt = await session.scalar(
        select(WebhookReceipt).where(
            WebhookReceipt.provider == provider,
            WebhookReceipt.dedupe_key == parsed.dedupe_key[:200],
        )
    )
    if receipt is None or receipt.answer_body is None:
        return WebhookAnswer()
    return WebhookAnswer(
        body=receipt.answer_body.encode(), content_type=receipt.answer_type or "text/plain"
    )


async def _call_for(
    platform: Platform,
    session: AsyncSession,
    provider: str,
    event: NormalizedEvent,
    call_hint: uuid.UUID | None,
) -> Call | None:
    call = await service.find_call(session, provider, event.provider_call_id, hint=call_hint)
    if call is not None:
        return call
    if (
        isinstance(event, CallProgress | InstructionsNeeded)
        and event.direction is Direction.INBOUND
    ):
        return await _new_inbound(platform, session, provider, event)
    return None


async def _new_inbound(
    platform: Platform,
    session: AsyncSession,
    provider: str,
    event: CallProgress | InstructionsNeeded,
) -> Call | None:
    """A call the platform hears about first from the provider: someone called a number."""
    if not (event.from_number and event.to_number):
        return None
    call = Call(
        direction=Direction.INBOUND.value,
        from_number=event.from_number if is_e164(event.from_number) else event.from_number[:32],
        to_number=event.to_number[:32],
        provider=provider,
        provider_call_id=event.provider_call_id,
        status=CallStatus.QUEUED.value,
        tags=[],
        attributes={},
        instructions=[],
        notes="",
    )
    session.add(call)
    await session.flush()
    service.note(session, call, "created", source="provider", direction="inbound")
    await service.publish(platform, session, service.STATUS_EVENTS[CallStatus.QUEUED], call)
    await service.keep_retention_running(platform, session)
    return call


async def _apply(
    platform: Platform, session: AsyncSession, call: Call, event: NormalizedEvent
) -> Sequence[Any] | None:
    if isinstance(event, CallProgress):
        await service.apply_progress(platform, session, call, event)
    elif isinstance(event, RecordingProgress):
        await service.apply_recording(platform, session, call, event)
    elif isinstance(event, TranscriptSegment):
        await service.apply_transcript(platform, session, call, event)
    elif isinstance(event, InstructionsNeeded):
        if CallStatus(call.status).terminal:
            return None
        if event.reason == "gathered":
            service.note(
                session, call, "digits", source="provider", digits_count=len(event.digits or "")
            )
        return await next_instructions(session, call, event)
    return None
