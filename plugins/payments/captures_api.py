"""``/api/v1/payments/captures``: agent-assisted capture on a live call. The agent starts
it, asks the caller for each card field (again to retry), completes or cancels it, and
follows it here or on the real-time stream (``payments.capture.*``); never card data."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kernel import PlatformDep, Principal, SessionDep, problem_responses, require
from plugins.payments import assisted
from plugins.payments.models import AgentCapture, Payment
from plugins.payments.permissions import PAYMENTS_CREATE, PAYMENTS_READ
from plugins.payments.problems import (
    CAPTURE_IN_PROGRESS,
    CAPTURE_INCOMPLETE,
    CAPTURE_NOT_FOUND,
    CAPTURE_NOT_OPEN,
    CURRENCY_INVALID,
)
from plugins.payments.schemas import CaptureFieldIn, CaptureIn, CaptureOut

router = APIRouter(tags=["payments"])

Reader = Annotated[Principal, Depends(require(PAYMENTS_READ.resource, PAYMENTS_READ.action))]
Taker = Annotated[Principal, Depends(require(PAYMENTS_CREATE.resource, PAYMENTS_CREATE.action))]


async def _out(session: AsyncSession, capture: AgentCapture) -> CaptureOut:
    payment = await session.scalar(
        select(Payment)
        .where(Payment.id == capture.payment_id)
        .execution_options(populate_existing=True)
    )
    assert payment is not None
    return CaptureOut.of(capture, payment)


@router.post(
    "/captures",
    response_model=CaptureOut,
    status_code=status.HTTP_201_CREATED,
    summary="Start an agent-assisted capture on a live call",
    responses=problem_responses(CURRENCY_INVALID, CAPTURE_IN_PROGRESS),
)
async def start_capture(
    body: CaptureIn,
    principal: Taker,
    session: SessionDep,
    platform: PlatformDep,
    response: Response,
) -> CaptureOut:
    """Opens the provider's secure capture on the call (the caller is asked nothing yet) and
    records the payment (`pending`, capture path `agent`). Then ask for each field."""
    capture, _ = await assisted.start(
        platform,
        session,
        principal=principal,
        call_id=body.call_id,
        amount=body.amount,
        currency=body.currency,
        description=body.description,
        contact_id=body.contact_id,
        postal_code=body.postal_code,
        security_code=body.security_code,
    )
    response.headers["Location"] = f"/api/v1/payments/captures/{capture.id}"
    return await _out(session, capture)


@router.get(
    "/captures/{capture_id}",
    response_model=CaptureOut,
    summary="An agent-assisted capture as it is now",
    responses=problem_responses(CAPTURE_NOT_FOUND),
)
async def get_capture(capture_id: uuid.UUID, principal: Reader, session: SessionDep) -> CaptureOut:
    """Without `payments:all` (agents): only the captures you started."""
    return await _out(session, await assisted.get(session, principal, capture_id))


@router.post(
    "/captures/{capture_id}/fields",
    response_model=CaptureOut,
    summary="Ask the caller to key a card field (again, to retry it)",
    responses=problem_responses(CAPTURE_NOT_FOUND, CAPTURE_NOT_OPEN),
)
async def ask_for_field(
    capture_id: uuid.UUID,
    body: CaptureFieldIn,
    principal: Taker,
    session: SessionDep,
    platform: PlatformDep,
) -> CaptureOut:
    """The caller hears the provider's prompt for the field and keys it; progress (digits
    keyed, masked; `error` when the provider refused it) follows on the stream."""
    capture = await assisted.ask_for(
        platform, session, principal=principal, capture_id=capture_id, field=body.field
    )
    return await _out(session, capture)


@router.post(
    "/captures/{capture_id}/complete",
    response_model=CaptureOut,
    summary="Charge the card the caller keyed",
    responses=problem_responses(CAPTURE_NOT_FOUND, CAPTURE_NOT_OPEN, CAPTURE_INCOMPLETE),
)
async def complete_capture(
    capture_id: uuid.UUID, principal: Taker, session: SessionDep, platform: PlatformDep
) -> CaptureOut:
    """The provider's connector charges the card at the organization's processor: the
    capture is `completing` and its payment `processing` until the outcome arrives
    (`payments.capture.ended`)."""
    capture = await assisted.complete(platform, session, principal=principal, capture_id=capture_id)
    return await _out(session, capture)


@router.post(
    "/captures/{capture_id}/cancel",
    response_model=CaptureOut,
    summary="Cancel the capture (nothing is charged)",
    responses=problem_responses(CAPTURE_NOT_FOUND, CAPTURE_NOT_OPEN),
)
async def cancel_capture(
    capture_id: uuid.UUID, principal: Taker, session: SessionDep, platform: PlatformDep
) -> CaptureOut:
    capture = await assisted.cancel(platform, session, principal=principal, capture_id=capture_id)
    return await _out(session, capture)
