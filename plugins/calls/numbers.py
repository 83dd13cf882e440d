"""``/api/v1/calls/numbers``: the organization's numbers, their provider and inbound route."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kernel import (
    CursorPage,
    PageParamsDep,
    PlatformDep,
    Principal,
    ProblemError,
    SessionDep,
    paginate,
    require,
)
from plugins.calls.models import PhoneNumber
from plugins.calls.phone import to_e164
from plugins.calls.problems import INVALID_NUMBER, NUMBER_EXISTS, NUMBER_NOT_FOUND
from plugins.calls.registry import check_handler, require_provider
from plugins.calls.schemas import NumberCreate, NumberOut, NumberUpdate

router = APIRouter(prefix="/numbers")

Reader = Annotated[Principal, Depends(require("calls.numbers", "read"))]
Writer = Annotated[Principal, Depends(require("calls.numbers", "write"))]


async def _check_route(platform: PlatformDep, session: SessionDep, number: PhoneNumber) -> None:
    if number.route == "forward" and not number.forward_to:
        raise ProblemError(
            INVALID_NUMBER, "forward_to: a forwarded number needs one", field="forward_to"
        )
    if number.route not in ("none", "forward"):
        # A handler's route (ivr, queues): its target (a flow, a queue) is in ivr_flow_id.
        if number.ivr_flow_id is None:
            what = "a flow" if number.route == "ivr" else "a target"
            raise ProblemError(
                INVALID_NUMBER,
                f"ivr_flow_id: a number routed to {number.route} needs {what}",
                field="ivr_flow_id",
            )
        await check_handler(
            platform, session, number.route, str(number.ivr_flow_id), field="ivr_flow_id"
        )


async def _get(session: SessionDep, number_id: uuid.UUID) -> PhoneNumber:
    number = await session.scalar(select(PhoneNumber).where(PhoneNumber.id == number_id))
    if number is None:
        raise ProblemError(NUMBER_NOT_FOUND)
    return number


@router.get("", response_model=CursorPage[NumberOut], summary="List phone numbers")
async def list_numbers(
    _principal: Reader, session: SessionDep, page: PageParamsDep
) -> CursorPage[NumberOut]:
    rows, cursor = await paginate(
        session,
        select(PhoneNumber),
        order_by=[PhoneNumber.created_at, PhoneNumber.id],
        params=page,
    )
    return CursorPage(items=[NumberOut.model_validate(r) for r in rows], next_cursor=cursor)


@router.post("", response_model=NumberOut, status_code=201, summary="Add a phone number")
async def create_number(
    body: NumberCreate, _principal: Writer, session: SessionDep, platform: PlatformDep
) -> NumberOut:
    require_provider(platform, body.provider)
    number = PhoneNumber(
        number=to_e164(body.number, field="number"),
        provider=body.provider,
        label=body.label,
        route=body.route,
        forward_to=to_e164(body.forward_to, field="forward_to") if body.forward_to else None,
        ivr_flow_id=body.ivr_flow_id,
    )
    await _check_route(platform, session, number)
    session.add(number)
    try:
        await session.commit()
    except IntegrityError:
        raise ProblemError(NUMBER_EXISTS, f"{number.number} is already registered") from None
    return NumberOut.model_validate(number)


@router.get("/{number_id}", response_model=NumberOut, summary="Get a phone number")
async def get_number(number_id: uuid.UUID, _principal: Reader, session: SessionDep) -> NumberOut:
    return NumberOut.model_validate(await _get(session, number_id))


@router.patch("/{number_id}", response_model=NumberOut, summary="Change a number's routing")
async def update_number(
    number_id: uuid.UUID,
    body: NumberUpdate,
    _principal: Writer,
    session: SessionDep,
    platform: PlatformDep,
) -> NumberOut:
    number = await _get(session, number_id)
    fields = body.model_fields_set
    if body.provider is not None:
        require_provider(platform, body.provider)
        number.provider = body.provider
    if body.label is not None:
        number.label = body.label
    if body.route is not None:
        number.route = body.route
    if "forward_to" in fields:
        number.forward_to = (
            to_e164(body.forward_to, field="forward_to") if body.forward_to else None
        )
    if "ivr_flow_id" in fields:
        number.ivr_flow_id = body.ivr_flow_id
    await _check_route(platform, session, number)
    await session.commit()
    return NumberOut.model_validate(number)


@router.delete("/{number_id}", status_code=204, summary="Remove a phone number")
async def delete_number(number_id: uuid.UUID, _principal: Writer, session: SessionDep) -> Response:
    await session.delete(await _get(session, number_id))
    await session.commit()
    return Response(status_code=204)
