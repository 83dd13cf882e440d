"""The conversation a supervisor listens to ended: their session ends and their leg is hung
up (``kraliki_events``; delivery is at least once, an ended session is left alone).

A queue's conference ends when the agent leaves it, and takes the supervisor's leg with it;
a campaign seat's conference outlives the person called (the agent waits there for the next
one), so without this the supervisor would stay on for the next call.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import or_, select

from kernel import DeliveredEvent, Platform, ProblemError
from plugins.supervisor.models import LIVE_SESSIONS, SupervisionSession
from plugins.supervisor.sessions.service import PLACED_BY, finish, hang_up_leg

logger = logging.getLogger(__name__)

ENDINGS = frozenset(
    {
        "calls.call.completed",
        "calls.call.busy",
        "calls.call.no-answer",
        "calls.call.failed",
        "calls.call.canceled",
    }
)


async def on_events(platform: Platform, events: Sequence[DeliveredEvent]) -> None:
    ended = {_call_id(e) for e in events if e.name in ENDINGS} - {None}
    if not ended:
        return
    legs: list[uuid.UUID] = []
    async with platform.database.session() as session:
        rows = await session.scalars(
            select(SupervisionSession)
            .where(
                SupervisionSession.status.in_(LIVE_SESSIONS),
                or_(
                    SupervisionSession.agent_call_id.in_(ended),
                    SupervisionSession.customer_call_id.in_(ended),
                ),
            )
            .with_for_update()
        )
        for row in rows:
            await finish(platform, session, row, "call_ended")
            if row.supervisor_call_id is not None and row.supervisor_call_id not in ended:
                legs.append(row.supervisor_call_id)
        await session.commit()
        for leg in legs:
            try:
                await hang_up_leg(platform, session, leg, actor=PLACED_BY)
            except ProblemError as problem:
                logger.warning("could not hang up supervisor leg %s: %s", leg, problem)


def _call_id(event: DeliveredEvent) -> uuid.UUID | None:
    value = event.payload.get("call_id")
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None
