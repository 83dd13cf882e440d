"""Provider webhook ingest: verify, de-duplicate, persist, apply, then answer.

A provider plugin mounts :func:`provider_webhook_router` through ``kraliki_webhook_routes``;
its callbacks arrive at ``/webhooks/<provider>/<tenant id>/<kind>``. Nothing changes before
the request is verified with that tenant's secret (403 otherwise); an authentic request that
cannot be understood, or carries a value no column can hold, gets 400; an accepted one is
kept (redacted) with what it was answered, so a redelivery is recognised and answered the
same, and nothing is lost (a refused one is kept too, as ``rejected``).
"""

from __future__ import annotations

import logging
import re
import uuid
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import (
    Platform,
    ProblemError,
    SecretUnavailableError,
    Tenant,
    get_platform,
    public,
    tenant_scope,
)
from plugins.calls.config import CallsSettings
from plugins.calls.ingest import process
from plugins.calls.problems import (
    WEBHOOK_MALFORMED,
    WEBHOOK_NOT_FOUND,
    WEBHOOK_SIGNATURE_INVALID,
    WEBHOOK_TOO_LARGE,
)
from plugins.calls.provider import (
    WebhookMalformed,
    WebhookRejected,
    WebhookRequest,
)
from plugins.calls.registry import build_provider, calls_state

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
    limit = state.settings.max_webhook_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:  # refuse before reading it
        raise ProblemError(WEBHOOK_TOO_LARGE)
    body = await request.body()
    if len(body) > limit:
        raise ProblemError(WEBHOOK_TOO_LARGE)
    # One session, and on the usual path one transaction, for the whole webhook: the tenant
    # check, the secret's cache check, the receipt and every effect (docs/adr/0034).
    with tenant_scope(tenant_id):
        async with platform.database.session() as session:
            await _check_tenant(session, tenant_id, provider_name)
            provider = build_provider(platform, tenant_id, provider_name, webhook_session=session)
            webhook = _webhook_request(request, kind, body, state.settings)
            try:
                await provider.verify_webhook(webhook)
            except (WebhookRejected, SecretUnavailableError) as exc:
                logger.warning(
                    "rejected %s webhook for tenant %s: %s", provider_name, tenant_id, exc
                )
                raise ProblemError(WEBHOOK_SIGNATURE_INVALID) from None
            try:
                parsed = provider.parse_webhook(webhook)
                call_hint = _call_hint(webhook)
                answer = await process(
                    platform, session, provider, provider_name, kind, parsed, call_hint
                )
            except WebhookMalformed as exc:  # unreadable, or a value no column can hold (kept)
                raise ProblemError(WEBHOOK_MALFORMED, str(exc)[:300]) from None
    return Response(
        content=answer.body, status_code=answer.status_code, media_type=answer.content_type
    )


async def _check_tenant(session: AsyncSession, tenant_id: uuid.UUID, provider: str) -> None:
    """404 for a tenant that does not exist or turned calls (or this provider) off: the URL
    says nothing about who exists. Read first in the webhook's session, before the vault."""
    row = (
        await session.execute(select(Tenant.disabled_plugins).where(Tenant.id == tenant_id))
    ).first()
    if row is None or {"calls", provider} & set(row.disabled_plugins or ()):
        raise ProblemError(WEBHOOK_NOT_FOUND)


def _webhook_request(
    request: Request, kind: str, body: bytes, settings: CallsSettings
) -> WebhookRequest:
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


def public_url(request: Request, settings: CallsSettings) -> str:
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
