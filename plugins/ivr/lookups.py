"""HTTP lookups from flows to the tenant's own system: the platform's outbound rules (no
private addresses unless the operator allows them; the checked address is the one
connected to), the tenant's bearer token from the vault, a short timeout, one attempt (the
caller is waiting), and a circuit breaker per tenant so a dead CRM fails fast."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

from kernel import (
    CircuitOpenError,
    OutboundPolicy,
    Platform,
    TransientError,
    UrlRefusedError,
    check_outbound_url,
)
from plugins.ivr.nodes import LookupFailed, LookupRequest, LookupResponse

DEPENDENCY = "ivr.lookup"
MAX_BODY = 256 * 1024


def performer(
    platform: Platform, tenant_id: uuid.UUID, policy: OutboundPolicy
) -> Callable[[str, LookupRequest], Awaitable[LookupResponse]]:
    async def lookup(node_id: str, request: LookupRequest) -> LookupResponse:
        return await perform(platform, tenant_id, policy, request)

    return lookup


async def perform(
    platform: Platform, tenant_id: uuid.UUID, policy: OutboundPolicy, request: LookupRequest
) -> LookupResponse:
    try:
        target = await check_outbound_url(request.url, policy)
    except UrlRefusedError as exc:
        raise LookupFailed(f"refused: {exc}") from None
    headers = {"accept": "application/json", **request.headers, "host": target.host_header}
    if request.bearer_secret:
        token = await platform.vault.reveal(
            request.bearer_secret, plugin="ivr", purpose="IVR lookup", tenant_id=tenant_id
        )
        if token is None:
            raise LookupFailed(f"the vault has no {request.bearer_secret}")
        headers["authorization"] = f"Bearer {token.reveal()}"
    http = platform.resilience.http

    async def send() -> LookupResponse:
        response = await http.request(
            request.method,
            target.url,
            headers=headers,
            json=request.json,
            timeout=request.timeout_seconds,
            extensions=target.extensions(),
        )
        if response.status_code >= 500:
            raise TransientError(
                DEPENDENCY, f"answered {response.status_code}", status=response.status_code
            )
        body = response.content[:MAX_BODY]
        try:
            document = json.loads(body) if body else None
        except ValueError:
            if 200 <= response.status_code < 300:
                raise LookupFailed("the answer is not JSON") from None
            document = None
        return LookupResponse(status_code=response.status_code, json=document)

    try:
        return await platform.resilience.call(
            DEPENDENCY, send, tenant_id=tenant_id, timeout=request.timeout_seconds, attempts=1
        )
    except CircuitOpenError:
        raise LookupFailed("not sent: the lookups' circuit breaker is open") from None
    except TransientError as exc:
        if exc.timed_out:
            raise LookupFailed("timed out") from None
        if exc.status is not None:
            raise LookupFailed(f"answered {exc.status}") from None
        raise LookupFailed("could not connect") from None
