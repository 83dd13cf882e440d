"""Routes: mounted by the kernel under /api/v1/blocklist."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from sqlalchemy import select

from acme_blocklist import READ, WRITE, service
from acme_blocklist.models import BlockedNumber
from acme_blocklist.schemas import BlockedOut, BlockIn
from kernel import CursorPage, PageParamsDep, Principal, SessionDep, paginate, require

router = APIRouter()


@router.get("/numbers", response_model=CursorPage[BlockedOut])
async def list_numbers(
    session: SessionDep,
    page: PageParamsDep,
    _: Annotated[Principal, Depends(require(READ.resource, READ.action))],
) -> CursorPage[BlockedOut]:
    rows, cursor = await paginate(
        session,
        select(BlockedNumber),
        order_by=(BlockedNumber.created_at, BlockedNumber.id),
        params=page,
    )
    return CursorPage[BlockedOut](
        items=[BlockedOut.model_validate(r) for r in rows], next_cursor=cursor
    )


@router.post("/numbers", response_model=BlockedOut, status_code=status.HTTP_201_CREATED)
async def block_number(
    body: BlockIn,
    session: SessionDep,
    _: Annotated[Principal, Depends(require(WRITE.resource, WRITE.action))],
) -> BlockedOut:
    entry = await service.block(session, number=body.number, reason=body.reason)
    return BlockedOut.model_validate(entry)
