"""``GET /api/v1/supervisor/wallboard``: the board's snapshot (the page reads it once, then
follows the real-time stream from ``stream.last_event_id``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from kernel import PlatformDep, Principal, SessionDep, require
from plugins.supervisor.permissions import DASHBOARD_READ
from plugins.supervisor.wallboard import service
from plugins.supervisor.wallboard.schemas import Wallboard

router = APIRouter(tags=["supervisor"])

Reader = Annotated[Principal, Depends(require(DASHBOARD_READ.resource, DASHBOARD_READ.action))]


@router.get("/wallboard", response_model=Wallboard, summary="The live wallboard's snapshot")
async def get_wallboard(principal: Reader, platform: PlatformDep, session: SessionDep) -> Wallboard:
    """Every queue's live figures, the agents you see (the teams you lead; everyone with
    `agents:all`) with their state and call, the raised alerts, the live supervision
    sessions, and `stream`: subscribe to the real-time stream with `stream.last_event_id`
    as `last_event_id` and no event after this snapshot is lost."""
    return await service.wallboard(platform, session, principal)
