"""Agent-assisted card capture on a live call: the agent's side opens a session, asks the
caller for one field at a time (again for a retry), then completes or cancels it; the
caller keys the digits into the provider's secure capture and the platform hears only
masked progress (:class:`PaymentProgress`, handed to ``kraliki_call_payment_progress``).

As with a redirect, the call is checked first (409), the transaction is committed before
the provider is asked, and each step goes to the call's timeline after (no digits)."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from kernel import Platform
from plugins.calls import service
from plugins.calls.provider import Capability, CaptureField, StartCapture, UpdateCapture
from plugins.calls.registry import build_provider
from plugins.calls.steering import provider_problems, require_capabilities, require_in_progress

NEEDED = (Capability.AGENT_PAYMENTS,)


async def start_payment_capture(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    idempotency_key: str,
    amount: str,
    currency: str,
    connector: str = "Default",
    description: str | None = None,
    postal_code: bool = True,
    security_code: bool = True,
    actor: str | None = None,
) -> str:
    """Open a capture session on the live call ``call_id`` and return the provider's id of
    it. ``session`` is the tenant's; it is committed. Problems: 404 no such call, 409
    ``calls-call-state-conflict`` unless it is in progress, 409 ``calls-capability-missing``
    (``capability`` ``agent-payments``) on a provider without agent-assisted capture, 422
    ``calls-provider-refused``, 503 ``calls-provider-unavailable``."""
    call = await service.get_call(session, call_id)
    require_in_progress(call, "take a payment on")
    require_capabilities(platform, call, NEEDED, what="capture a card for an agent")
    request = StartCapture(
        call=service.call_ref(call),
        idempotency_key=idempotency_key,
        amount=amount,
        currency=currency,
        connector=connector,
        description=description,
        postal_code=postal_code,
        security_code=security_code,
    )
    await session.commit()  # no transaction (or lock) is held while the provider answers
    provider = build_provider(platform, call.tenant_id, call.provider, call_id=call.id)
    with provider_problems(call.provider, unsupported=Capability.AGENT_PAYMENTS.value):
        session_id = await provider.start_capture(request)
    await _note(session, call_id, actor, "started", amount)
    return session_id


async def update_payment_capture(
    platform: Platform,
    session: AsyncSession,
    call_id: uuid.UUID,
    *,
    session_id: str,
    idempotency_key: str,
    capture: CaptureField | None = None,
    status: Literal["complete", "cancel"] | None = None,
    actor: str | None = None,
) -> None:
    """Ask the caller for ``capture`` on the open session, or ``complete`` or ``cancel``
    it (exactly one; ``ValueError`` otherwise). Problems as :func:`start_payment_capture`;
    cancelling needs no live call (a call that ended took its session with it)."""
    if (capture is None) == (status is None):
        raise ValueError("give exactly one of capture and status")
    call = await service.get_call(session, call_id)
    if status != "cancel":
        require_in_progress(call, "take a payment on")
    require_capabilities(platform, call, NEEDED, what="capture a card for an agent")
    request = UpdateCapture(
        call=service.call_ref(call),
        session_id=session_id,
        idempotency_key=idempotency_key,
        capture=capture,
        status=status,
    )
    await session.commit()
    provider = build_provider(platform, call.tenant_id, call.provider, call_id=call.id)
    with provider_problems(call.provider, unsupported=Capability.AGENT_PAYMENTS.value):
        await provider.update_capture(request)
    step = capture.value if capture is not None else status
    await _note(session, call_id, actor, step)


async def _note(
    session: AsyncSession,
    call_id: uuid.UUID,
    actor: str | None,
    step: str | None,
    amount: str | None = None,
) -> None:
    call = await service.get_call(session, call_id, for_update=True)
    service.note(
        session, call, "payment-capture", source="platform", actor=actor, step=step, amount=amount
    )
    await session.commit()
