"""The ``campaigns`` call handler. Targets: ``seat:<seat id>`` is an agent's leg in a
campaign seat; ``attempt:<attempt id>`` is a progressive or predictive campaign's call to a
contact, joined to a seated agent when answered."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.calls import CallHandler, CallTurn, Hangup, Say
from plugins.campaigns.models import Attempt, Campaign, Seat
from plugins.campaigns.seats import connect
from plugins.campaigns.seats import service as seats
from plugins.campaigns.seats.rows import seat_conference

UNAVAILABLE = "Sorry, this campaign call is over. Goodbye."


@dataclass(frozen=True)
class Target:
    kind: str
    id: uuid.UUID


def parse_target(target: str | None) -> Target:
    """``seat:<id>`` or ``attempt:<id>``; raises ``ValueError``."""
    kind, _, ident = (target or "").partition(":")
    if kind not in ("seat", "attempt"):
        raise ValueError("not a campaigns target")
    return Target(kind, uuid.UUID(ident))


async def seat_leg_started(turn: CallTurn, seat_id: uuid.UUID) -> list[Any]:
    """The agent answered: they wait in the seat's conference for the first person."""
    seat = await seats.leg_answered(turn.platform, turn.session, seat_id, turn.call.id)
    if seat is None:
        turn.note("campaigns.seat-over", seat_id=str(seat_id))
        return [Say(text=UNAVAILABLE), Hangup()]
    name = await turn.session.scalar(select(Campaign.name).where(Campaign.id == seat.campaign_id))
    turn.note("campaigns.seat-ready", seat_id=str(seat_id))
    return [
        Say(text=f"Campaign {name}. Calls connect automatically; stay on the line."),
        seat_conference(seat.id, agent=True),
    ]


async def seat_leg_ended(turn: CallTurn, seat_id: uuid.UUID) -> None:
    await seats.leg_ended(
        turn.platform, turn.session, seat_id, turn.call.id, turn.call.status.value
    )


STARTS: dict[str, Callable[[CallTurn, uuid.UUID], Awaitable[list[Any]]]] = {
    "seat": seat_leg_started,
    "attempt": connect.answered,
}
ENDINGS: dict[str, Callable[[CallTurn, uuid.UUID], Awaitable[None]]] = {
    "seat": seat_leg_ended,
    "attempt": connect.ended,
}
ROWS: dict[str, Any] = {"seat": Seat, "attempt": Attempt}


class CampaignHandler(CallHandler):
    name = "campaigns"

    async def check_target(self, session: AsyncSession, target: str) -> str | None:
        try:
            parsed = parse_target(target)
        except ValueError:
            return "not a campaigns target (seat:<id> or attempt:<id>)"
        model = ROWS[parsed.kind]
        found = await session.scalar(select(model.id).where(model.id == parsed.id))
        return None if found is not None else f"no {parsed.kind} of the organization has this id"

    async def start(self, turn: CallTurn) -> Sequence[Any]:
        try:
            parsed = parse_target(turn.call.target)
        except ValueError:
            return [Say(text=UNAVAILABLE), Hangup()]
        return await STARTS[parsed.kind](turn, parsed.id)

    async def resume(self, turn: CallTurn) -> Sequence[Any] | None:
        """Nothing the campaign's calls run reports back; should a step end, hang up."""
        return [Hangup()]

    async def ended(self, turn: CallTurn) -> None:
        try:
            parsed = parse_target(turn.call.target)
        except ValueError:
            return
        await ENDINGS[parsed.kind](turn, parsed.id)
