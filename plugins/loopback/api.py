"""``/api/v1/loopback``: the loopback carrier's own controls (an inbound call)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from kernel import PlatformDep, Principal, SessionDep, problem_responses, require
from plugins.loopback import inbound
from plugins.loopback.permissions import INBOUND_CREATE
from plugins.loopback.problems import CARRIER_UNAVAILABLE, NUMBER_NOT_FOUND, SCRIPT_INVALID
from plugins.loopback.schemas import InboundCallIn, InboundCallOut

router = APIRouter(tags=["loopback"])

Caller = Annotated[Principal, Depends(require(INBOUND_CREATE.resource, INBOUND_CREATE.action))]


@router.post(
    "/inbound-calls",
    response_model=InboundCallOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Call one of the organization's loopback numbers as a scripted caller",
    responses=problem_responses(NUMBER_NOT_FOUND, SCRIPT_INVALID, CARRIER_UNAVAILABLE),
)
async def create_inbound_call(
    body: InboundCallIn, principal: Caller, session: SessionDep, platform: PlatformDep
) -> InboundCallOut:
    """The loopback carrier delivers a call to `to` through its signed webhooks, as a real
    carrier delivers a call to one of your numbers: it goes where the number routes (a
    flow, a forward). Answered once the platform knows the call (`call_id`); the caller
    then does what `script` says."""
    assert principal.tenant_id is not None
    made = await inbound.call_in(
        platform,
        session,
        tenant_id=principal.tenant_id,
        to_number=body.to,
        from_number=body.from_,
        script=body.script,
    )
    return InboundCallOut(
        call_id=made.call_id,
        provider_call_id=made.provider_call_id,
        to=body.to,
        from_=body.from_,
    )
